#!/usr/bin/env node
// The `backstop` command. Runs the TypeScript sources through tsx (a dependency), so the
// CLI works from a checkout and from an installed package alike.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../electron/cli/index.ts');
process.exitCode = await main(process.argv.slice(2));
