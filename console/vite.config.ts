import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The console is served by the Sideline process itself at /agent/ (see the README's "Agent console").
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/agent/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Hashed file names, so the server can mark them immutable.
    assetsDir: 'assets',
    sourcemap: false,
    chunkSizeWarningLimit: 1200,
  },
});
