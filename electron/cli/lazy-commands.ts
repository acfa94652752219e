/**
 * The engine and the CLI's commands, loaded on first call. `backstop --help`,
 * `--version` and usage errors then never load the engine's packages (zod, libsql, pino,
 * the keychain, zstd…), which the built CLI keeps in chunks of their own
 * (scripts/build-cli.mjs). Each export has the signature of the function it stands for.
 * electron/cli/index.ts imports the engine and the commands only through here (or as types).
 */
type AsyncFn = (...args: never[]) => Promise<unknown>;

function lazy<M extends { [P in K]: AsyncFn }, K extends keyof M>(load: () => Promise<M>, name: K): M[K] {
  const call = async (...args: Parameters<M[K]>) => (await load())[name](...args);
  return call as M[K];
}

export const createEngine = lazy(() => import('../engine/index.ts'), 'createEngine');
export const backupCommand = lazy(() => import('./commands/backup.ts'), 'backupCommand');
export const testRestoreCommand = lazy(() => import('./commands/test-restore.ts'), 'testRestoreCommand');
export const restoreServerCommand = lazy(() => import('./commands/restore-server.ts'), 'restoreServerCommand');
export const demoCommand = lazy(() => import('./commands/demo.ts'), 'demoCommand');
export const pointsCommand = lazy(() => import('./commands/location.ts'), 'pointsCommand');
export const verifyCommand = lazy(() => import('./commands/location.ts'), 'verifyCommand');
export const restoreCommand = lazy(() => import('./commands/location.ts'), 'restoreCommand');
export const extractCommand = lazy(() => import('./commands/location.ts'), 'extractCommand');
export const pruneCommand = lazy(() => import('./commands/location.ts'), 'pruneCommand');
export const applyGlobalsCommand = lazy(() => import('./commands/apply-globals.ts'), 'applyGlobalsCommand');
export const keysGenerate = lazy(() => import('./commands/keys.ts'), 'keysGenerate');
export const keysList = lazy(() => import('./commands/keys.ts'), 'keysList');
export const keysExport = lazy(() => import('./commands/keys.ts'), 'keysExport');
export const keysImport = lazy(() => import('./commands/keys.ts'), 'keysImport');
export const serversAdd = lazy(() => import('./commands/config-files.ts'), 'serversAdd');
export const serversUpdate = lazy(() => import('./commands/config-files.ts'), 'serversUpdate');
export const serversRemove = lazy(() => import('./commands/config-files.ts'), 'serversRemove');
export const serversExport = lazy(() => import('./commands/config-files.ts'), 'serversExport');
export const tasksAdd = lazy(() => import('./commands/config-files.ts'), 'tasksAdd');
export const tasksUpdate = lazy(() => import('./commands/config-files.ts'), 'tasksUpdate');
export const tasksRemove = lazy(() => import('./commands/config-files.ts'), 'tasksRemove');
export const historyTaskId = lazy(() => import('./commands/config-files.ts'), 'historyTaskId');
export const tasksExport = lazy(() => import('./commands/config-files.ts'), 'tasksExport');
/** `agent install|uninstall|status` (commands/agent-service.ts), loaded on use. */
export const agentService = () => import('./commands/agent-service.ts');
export const serveCommand = lazy(() => import('./commands/serve.ts'), 'serveCommand');
export const serveTls = lazy(() => import('./commands/serve.ts'), 'serveTls');
/** The agent's control endpoint for the window (agent/endpoint.ts), loaded on use. */
export const startAgentEndpoint = lazy(() => import('../agent/endpoint.ts'), 'startAgentEndpoint');
export { demoDataDir } from './commands/demo-data-dir.ts';
