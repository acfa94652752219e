// Types of scripts/test-keyring.mjs for the TypeScript callers (tests/fixtures/private-keychain.ts).
export const TEST_KEYRING_PASSWORD: string;
export function busConfig(dir: string): string;
export function superviseKeyring(home: string): Promise<{ report(): string | null; stop(): void }>;
