// Build of the Égide web interface: the output goes into the Python package
// (src/egide/web/ui/dist), served by egide.web.ui. No inline script or style
// may be emitted: the server's Content-Security-Policy forbids them.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  build: {
    outDir: fileURLToPath(new URL("../src/egide/web/ui/dist", import.meta.url)),
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
  },
  server: {
    proxy: { "/api": "http://127.0.0.1:8000" },
  },
});
