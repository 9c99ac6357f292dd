// The configurations without @types/node: the scripts' console.log, declared the way a user would.
declare var console: { log(...data: unknown[]): void };
