"""Remote mode: the file commands over HTTP, with an API token stored by `egide login`.

Modules: `config` (the remotes file and private files), `errors` (problem
documents to exit codes), `client` (httpx with the bearer token), `tus` (a
small tus 1.0.0 client whose uploads resume across runs), `transfers` (put,
get, ls, mv, rm, versions), `commands` (login, logout, the `--remote` option).
"""
