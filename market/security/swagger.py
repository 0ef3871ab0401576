"""Swagger UI at /schema without any inline script or style.

Litestar's SwaggerRenderPlugin writes the schema and the start-up call into an inline
<script>, which our Content-Security-Policy (``script-src 'self'``) refuses. This page
loads the vendored bundle and static/js/swagger-init.js, which fetches the schema from
/schema/openapi.json; what the inline code did (the CSRF header for cookie sessions) is
done there, configured by data attributes. No favicon from a CDN either.
"""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import Request
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.utils.scope.state import ScopeState

INIT_JS_URL = "/static/js/swagger-init.js"


class StaticSwaggerRenderPlugin(SwaggerRenderPlugin):
    def __init__(self, *, spec_url: str, csrf_header: str, **kwargs: Any) -> None:
        super().__init__(favicon="", style="", **kwargs)
        self.spec_url = spec_url
        self.csrf_header = csrf_header

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = escape(str(openapi_schema.get("info", {}).get("title", "API")))
        # The token bound to this browser's session, as every page carries it.
        token = ScopeState.from_scope(request.scope).csrf_token
        csrf_token = token if isinstance(token, str) else ""
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link href="{escape(self.css_url)}" rel="stylesheet">
<script src="{escape(self.js_url)}" defer></script>
<script src="{escape(self.standalone_preset_js_url)}" defer></script>
<script src="{INIT_JS_URL}" defer></script>
</head>
<body>
<div id="swagger-container" data-spec-url="{escape(self.spec_url)}" data-csrf-token="{escape(csrf_token)}" data-csrf-header="{escape(self.csrf_header)}"></div>
</body>
</html>
""".encode()
