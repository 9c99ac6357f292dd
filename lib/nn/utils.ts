export { clipGradNorm, clipGradValue } from '../optim/clip.js';
