import { defineConfig } from "vite";

// `vite dev` / `vite preview` forward the API to a local `polkacompute dashboard --port 18700`.
const proxy = { "/api": { target: "http://127.0.0.1:18700", changeOrigin: true } };

export default defineConfig({
  // Relative asset URLs: the built page works wherever FastAPI mounts the static dir.
  base: "./",
  // Preact's automatic JSX runtime (no Babel, so no @preact/preset-vite).
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "../src/polkacompute/dashboard/static",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    // Inline nothing: keeps the output to index.html + one JS + one CSS, named by content hash.
    assetsInlineLimit: 0,
  },
  server: { port: 5173, proxy },
  preview: { port: 4173, proxy },
});
