// Builds the viewer bundle (viewer.js, viewer.css, viewer.LEGAL.txt) into the Python package,
// or into the directory given as the first argument (check-bundle.sh builds into a temp dir).
//
// The output must depend on the sources and package-lock.json only: no source maps (they hold
// paths), no timestamps, licence comments gathered in one file instead of scattered.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(process.argv[2] ?? resolve(here, '../src/pancommons/portal/static/viewer'));

mkdirSync(outdir, { recursive: true });
for (const name of readdirSync(outdir)) {
  if (name.startsWith('viewer.')) {
    rmSync(resolve(outdir, name)); // a file an earlier build made and this one may not
  }
}

const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: { viewer: 'src/viewer.tsx' },
  outdir,
  bundle: true,
  format: 'iife',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  platform: 'browser',
  minify: true,
  sourcemap: false,
  legalComments: 'external',
  jsx: 'automatic',
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
  metafile: true,
});

for (const [file, { bytes }] of Object.entries(result.metafile.outputs)) {
  console.log(`${file}  ${(bytes / 1024).toFixed(0)} kB`);
}
