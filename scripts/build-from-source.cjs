'use strict';
// Building the native addon from source with cmake-js, for `npx tensile build`, the install script (where npm still
// runs one) and the prebuild wrapper (scripts/prebuild.cjs). Before it starts, it checks for what the build needs
// (cmake >= 3.15, a C++17 compiler with OpenMP, the build-only npm packages) and names what is missing and how to
// get it, so that a failed build never ends in a cmake trace alone. Downloads nothing.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
/** npm packages needed only to build from source (optional peer dependencies of a prebuilt install) */
const BUILD_PACKAGES = ['cmake-js', 'node-addon-api', 'node-api-headers'];

function run(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', ...opts });
}

const cmp = (a, b) => {
  const x = a.split('.').map(Number), y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
};

/**
 * What a source build needs and is missing here: a list of { what, found, remedy } (empty when all is there).
 * env: the environment to look in (PATH, CXX).
 */
function missing(env = process.env) {
  const out = [];
  const opts = { env };
  const cm = (() => {
    const r = run('cmake', ['--version'], opts);
    if (r.error || r.status !== 0) return null;
    return (/cmake version ([0-9.]+)/.exec(r.stdout) ?? [])[1] ?? '';
  })();
  if (cm === null) out.push({ what: 'cmake >= 3.15', found: 'none on PATH', remedy: 'Debian/Ubuntu: apt-get install cmake; Fedora/RHEL: dnf install cmake; or pip install cmake' });
  else if (cm && cmp(cm, '3.15') < 0) out.push({ what: 'cmake >= 3.15', found: `cmake ${cm}`, remedy: 'a newer cmake: pip install cmake, or your distribution\'s backports' });
  const cxx = env.CXX || 'c++';
  const cc = run(cxx, ['--version'], opts);
  if (cc.error || cc.status !== 0) {
    out.push({ what: 'a C++17 compiler with OpenMP (g++ >= 9)', found: `no ${cxx} on PATH${env.CXX ? ' (CXX)' : ''}`, remedy: 'Debian/Ubuntu: apt-get install g++; Fedora/RHEL: dnf install gcc-c++' });
  }
  const pkgs = BUILD_PACKAGES.filter((p) => {
    try {
      require.resolve(`${p}/package.json`, { paths: [root] });
      return false;
    } catch {
      return true;
    }
  });
  if (pkgs.length) {
    out.push({ what: `the npm packages ${BUILD_PACKAGES.join(', ')}`, found: `missing ${pkgs.join(', ')}`, remedy: `npm install --no-save ${pkgs.join(' ')} (from the npm registry)` });
  }
  return out;
}

class BuildError extends Error {
  constructor(message) {
    super(message);
    this.name = 'BuildError';
  }
}

function describeMissing(list) {
  return list.map((m) => `  - ${m.what}: found ${m.found}. Remedy: ${m.remedy}`).join('\n');
}

/**
 * Builds build/Release/tensile.node (or `<out>/Release`) with cmake-js. defines: extra CMake -D settings (they are
 * passed at every configure, so a build directory made with other settings follows them; TENSILE_CUDA and
 * TENSILE_CUDA_ARCHS come from env unless given here). Throws a BuildError that
 * names what is missing, or the step that failed.
 */
function buildFromSource({ out = 'build', defines = {}, env = process.env, stdio = 'inherit', arch } = {}) {
  const miss = missing(env);
  if (miss.length) {
    throw new BuildError(`tensile: cannot build the native addon from source here; it needs:\n${describeMissing(miss)}\n` +
      'Or use a prebuilt binary: tensile ships one for linux-x64 (glibc); see `npx tensile doctor`.');
  }
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  // TENSILE_CUDA / TENSILE_CUDA_ARCHS from the environment, passed at each configure (CMake keeps cached values)
  const fromEnv = Object.fromEntries(['TENSILE_CUDA', 'TENSILE_CUDA_ARCHS'].filter((k) => env[k]).map((k) => [k, env[k]]));
  const d = Object.entries({ CMAKE_BUILD_TYPE: 'Release', ...fromEnv, ...defines }).map(([k, v]) => `--CD${k}=${v}`);
  const a = arch ? ['--arch', arch] : [];
  for (const step of [['configure', ...d], ['build']]) {
    const r = spawnSync(process.execPath, [cmakeJs, step[0], '--out', out, ...a, ...step.slice(1)], { cwd: root, stdio, env });
    if (r.error || r.status !== 0) {
      throw new BuildError(`tensile: building the native addon failed at cmake-js ${step[0]} (exit ${r.status ?? r.error?.message}); ` +
        'the output above names the cause. It needs cmake >= 3.15 and g++ with OpenMP (Debian/Ubuntu: apt-get install cmake g++); ' +
        'nvcc >= 12 is optional (the CUDA backend; TENSILE_CUDA=OFF builds without it).');
    }
  }
  const file = path.join(root, out, 'Release', 'tensile.node');
  if (!fs.existsSync(file)) throw new BuildError(`tensile: expected the build to write ${file}, got no such file`);
  return file;
}

module.exports = { buildFromSource, missing, BuildError, BUILD_PACKAGES, cmp, root };

if (require.main === module) {
  try {
    const f = buildFromSource();
    console.log(`tensile: built ${f}`);
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
