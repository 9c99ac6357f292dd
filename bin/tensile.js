#!/usr/bin/env node
// The tensile command. `build` and `doctor` run without loading the native addon first (build makes it; doctor
// reports why it does not load); the other commands are in dist/cli/main.js.
import { createRequire } from 'node:module';

const argv = process.argv.slice(2);
const fail = (e) => {
  console.error(`${e.name ?? 'Error'}: ${e.message}`);
  process.exit(1);
};

if (argv[0] === 'build') {
  // a source build of the addon (build/Release, which node-gyp-build prefers to the prebuild)
  if (argv.length > 1) fail(new Error(`tensile build: expected no arguments (TENSILE_CUDA, TENSILE_CUDA_ARCHS set the CUDA build), got ${argv.slice(1).join(' ')}`));
  const { buildFromSource } = createRequire(import.meta.url)('../scripts/build-from-source.cjs');
  try {
    const file = buildFromSource();
    console.log(`tensile: built ${file}; it loads before the prebuild (delete it to use the prebuild again)`);
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
} else if (argv[0] === 'doctor') {
  import('../dist/cli/doctor.js').then(({ doctor }) => doctor(argv.slice(1))).then((code) => process.exit(code), fail);
} else {
  import('../dist/cli/main.js').then(({ main }) => main(argv)).then((code) => process.exit(code), fail);
}
