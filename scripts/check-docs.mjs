// Lists public API symbols (what lib/index.ts exports, through namespaces and `export *`, and the public methods
// and getters of exported classes) whose TSDoc has no @example. Exit status 1 when any is missing.
// A source-level scan (TypeScript 7 ships no compiler API): declarations are found by their `export` keyword and
// class members by their indentation, the layout lib/ is written in. Usage: node scripts/check-docs.mjs
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

const lib = resolve(dirname(fileURLToPath(import.meta.url)), '../lib');
const src = (f) => readFileSync(f, 'utf8');
const tsPath = (from, spec) => resolve(dirname(from), spec.replace(/\.js$/, '.ts'));
const missing = [];
const seen = new Set();

// every class in lib/: its base class and the members it documents with an example (an override inherits its
// base's documentation, as TSDoc's {@inheritDoc} would)
const classes = new Map();
const walk = (d) => readdirSync(d).flatMap((f) => (statSync(resolve(d, f)).isDirectory() ? walk(resolve(d, f)) : f.endsWith('.ts') ? [resolve(d, f)] : []));
function scanClasses() {
 for (const f of walk(lib)) {
  const text = src(f);
  for (const m of text.matchAll(/^export (?:abstract )?(?:class|interface) (\w+)(?:<[^>]*>)?(?: extends ([\w.]+))?(?: implements ([\w., ]+))?/gm)) {
    const documented = new Set();
    memberDocs(text, bodyOpen(text, m.index), (name, doc) => { if (doc.includes('@example')) documented.add(name); });
    const bases = [m[2], ...(m[3]?.split(',') ?? [])].filter(Boolean).map((b) => b.trim().split('.').pop());
    classes.set(m[1], { bases, documented });
  }
 }
}
function inherited(cls, name) {
  for (const b of classes.get(cls)?.bases ?? []) if (classes.get(b)?.documented.has(name) || inherited(b, name)) return true;
  return false;
}

// the /** */ block that ends right before index `at` (blank lines allowed), or ''
function docBefore(text, at) {
  const before = text.slice(0, at).replace(/\s+$/, '');
  if (!before.endsWith('*/')) return '';
  const start = before.lastIndexOf('/**');
  return start < 0 ? '' : before.slice(start);
}
const internal = (doc) => doc.includes('@internal');
// the brace that opens a class or interface body: the first one outside the generics (which may hold braces)
const bodyOpen = (text, from) => {
  let angle = 0;
  for (let i = from; i < text.length; i++) {
    const ch = text[i];
    if (ch === '<') angle++;
    else if (ch === '>' && text[i - 1] !== '=') angle--;
    else if (ch === '{' && angle === 0) return i;
  }
  return text.length;
};

// calls f(name, doc) for each public method or getter of the class whose body starts at bodyStart; members start
// on lines indented by two spaces at brace depth 1
function memberDocs(text, bodyStart, f) {
  let depth = 0;
  for (let i = bodyStart; i < text.length; i++) {
    const ch = text[i];
    if (ch === '{') depth++;
    else if (ch === '}') { depth--; if (depth === 0) break; }
    else if (ch === '\n' && depth === 1) {
      const line = text.slice(i + 1, text.indexOf('\n', i + 1));
      const m = /^ {2}(?:abstract\s+)?(?:static\s+)?(?:async\s+)?(?:get\s+)?(\[Symbol\.\w+\]|[A-Za-z]\w*)\??\s*(?:<[^>]*>)?\(/.exec(line);
      if (!m || /^ {2}(private|protected|constructor|set\s)/.test(line)) continue;
      if (m[1].startsWith('_')) continue;
      const doc = docBefore(text, i + 1);
      if (!internal(doc)) f(m[1], doc);
    }
  }
}
function classMembers(text, bodyStart, path, cls) {
  memberDocs(text, bodyStart, (name, doc) => {
    if (!doc.includes('@example') && !inherited(cls, name)) missing.push(`${path}.${name}`);
  });
}

function declaration(file, name, path) {
  const key = `${file}#${name}`;
  if (seen.has(key)) return;
  seen.add(key);
  const text = src(file);
  const re = new RegExp(`^export (?:declare )?(?:abstract )?(?:async )?(function\\*?|class|const|let|interface|type|enum) ${name.replace('$', '\\$')}\\b`, 'm');
  const m = re.exec(text);
  if (!m) {  // re-exported from another file
    for (const r of text.matchAll(/^export \{([^}]*)\} from '([^']+)'/gm)) {
      for (const part of r[1].split(',')) {
        const [orig, alias] = part.trim().replace(/^type /, '').split(/\s+as\s+/);
        if ((alias ?? orig) === name) return declaration(tsPath(file, r[2]), orig, path);
      }
    }
    for (const r of text.matchAll(/^export \* from '([^']+)'/gm)) {
      const f = tsPath(file, r[1]);
      if (new RegExp(`^export (?:declare )?(?:abstract )?(?:async )?(?:function\\*?|class|const|let|interface|type|enum) ${name}\\b`, 'm').test(src(f))) return declaration(f, name, path);
    }
    missing.push(`${path} (declaration not found)`);
    return;
  }
  if (m[1] === 'interface' || m[1] === 'type') return;  // option bags and type names are documented where used
  const doc = docBefore(text, m.index);
  if (internal(doc)) return;
  if (!doc.includes('@example')) missing.push(path);
  if (m[1] === 'class') classMembers(text, bodyOpen(text, m.index), path, name);
}

function moduleExports(file, prefix) {
  const text = src(file);
  for (const r of text.matchAll(/^export (type )?\{([^}]*)\} from '([^']+)'/gm)) {
    if (r[1]) continue;
    for (const part of r[2].split(',')) {
      const p = part.trim();
      if (!p || p.startsWith('type ')) continue;
      const [orig, alias] = p.split(/\s+as\s+/);
      declaration(tsPath(file, r[3]), orig, prefix + (alias ?? orig));
    }
  }
  for (const r of text.matchAll(/^export \* as (\w+) from '([^']+)'/gm)) moduleExports(tsPath(file, r[2]), `${prefix}${r[1]}.`);
  for (const r of text.matchAll(/^export \* from '([^']+)'/gm)) moduleExports(tsPath(file, r[1]), prefix);
  for (const r of text.matchAll(/^export (?:declare )?(?:abstract )?(?:async )?(?:function\*?|class|const|let|enum) (\w+)/gm)) declaration(file, r[1], prefix + r[1]);
}

scanClasses();
moduleExports(resolve(lib, 'index.ts'), '');
if (missing.length) console.log(missing.join('\n'));
console.log(`${missing.length} public symbols without an @example (${seen.size} checked)`);
process.exit(missing.length ? 1 : 0);
