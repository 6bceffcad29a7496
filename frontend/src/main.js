import "@uppy/core/css/style.min.css";
import "@uppy/dashboard/css/style.min.css";
import "./style.css";
import { render } from "preact";
import { html } from "./html.js";
import { App } from "./app.js";
import { adoptSsoCsrfCookie } from "./api.js";

adoptSsoCsrfCookie();
render(html`<${App} />`, document.getElementById("app"));
