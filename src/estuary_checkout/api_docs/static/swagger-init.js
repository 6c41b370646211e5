/* Starts Swagger UI. A file, not an inline script, so the page runs under a CSP without
   'unsafe-inline'; the schema URL comes from the page (it carries the mount's prefix). */
(function () {
  'use strict';
  var root = document.getElementById('swagger-ui');
  window.ui = window.SwaggerUIBundle({
    url: root.getAttribute('data-openapi-url'),
    dom_id: '#swagger-ui',
    layout: 'BaseLayout',
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset]
  });
})();
