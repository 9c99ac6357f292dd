// The built-in models live in the package (lib/cli/models.ts) so that the CLI has them too.
export { MODELS } from '../dist/cli/models.js';
