/**
 * The app's version (package.json), on its own so a caller can print it without loading
 * the engine (the CLI's `--help` and `--version`).
 */
import pkg from '../../package.json' with { type: 'json' };

export const APP_VERSION: string = pkg.version;
