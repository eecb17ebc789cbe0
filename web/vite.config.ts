import preact from "@preact/preset-vite";
import { defineConfig } from "vite";

/**
 * The browser app, built into web/dist (served by Hearth at GET /). `npx vite web` runs a dev
 * server that proxies the API to a Hearth on :8000 (HEARTH_URL to change it).
 */
const target = process.env.HEARTH_URL ?? "http://127.0.0.1:8000";
const proxied = ["/v1", "/metrics", "/health", "/openapi.json"];

export default defineConfig({
  root: import.meta.dirname,
  base: "/",
  plugins: [preact({ devToolsEnabled: false, prefreshEnabled: true })],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // Hearth serves the app under a CSP of default-src 'self': no inline scripts, so no inline polyfill.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    target: "es2022",
    reportCompressedSize: false,
  },
  server: { proxy: Object.fromEntries(proxied.map((p) => [p, { target, ws: p === "/v1", changeOrigin: false }])) },
});
