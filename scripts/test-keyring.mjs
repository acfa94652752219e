// The tests' private keychain: a GNOME keyring daemon on the test run's own D-Bus session,
// unlocked with a throwaway password, its files in a throwaway HOME.
//
// Contract: `busConfig(dir)` writes a D-Bus session config that starts no service on demand,
// so a call that finds no keyring fails at once (KEYCHAIN_UNAVAILABLE in the test that made
// it) instead of starting a daemon with the developer's HOME — their own, locked keychain.
// `superviseKeyring(home)` starts the daemon in the foreground as this process's child and
// resolves once it answers; if it ends during the run, the exit code or signal and its last
// output are printed at once, and it is started again, unlocked, on the same files (the
// secrets written so far are kept). `report()` says how many times that happened (for the
// summary); `stop()` ends it.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const TEST_KEYRING_PASSWORD = 'backstop-test';

export function busConfig(dir) {
  const file = join(dir, 'session.conf');
  writeFileSync(
    file,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:tmpdir=${dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
  <limit name="max_incoming_bytes">1000000000</limit>
  <limit name="max_outgoing_bytes">1000000000</limit>
  <limit name="max_message_size">1000000000</limit>
  <limit name="max_completed_connections">100000</limit>
  <limit name="max_incomplete_connections">10000</limit>
  <limit name="max_connections_per_user">100000</limit>
  <limit name="max_pending_service_starts">10000</limit>
  <limit name="max_names_per_connection">50000</limit>
  <limit name="max_match_rules_per_connection">50000</limit>
  <limit name="max_replies_per_connection">50000</limit>
</busconfig>
`,
  );
  return file;
}

const time = () => new Date().toISOString().slice(11, 19);

async function answers() {
  const { AsyncEntry } = await import('@napi-rs/keyring');
  const entry = new AsyncEntry('backstop-test-harness', 'probe', { linux: { store: 'secret-service' } });
  await entry.setPassword('ok');
  return (await entry.getPassword()) === 'ok';
}

async function ready(daemon) {
  const deadline = Date.now() + 20_000;
  let last;
  while (Date.now() < deadline) {
    if (daemon.exitCode !== null || daemon.signalCode !== null) throw new Error(`gnome-keyring-daemon ended at start (${daemon.signalCode ?? `exit ${daemon.exitCode}`})`);
    try {
      if (await answers()) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the test keyring did not answer within 20 s: ${last?.message ?? 'no answer'}`);
}

export async function superviseKeyring(home) {
  let daemon;
  let stopping = false;
  let output = '';
  const endings = [];
  const start = async () => {
    const startedAt = Date.now();
    output = '';
    daemon = spawn('gnome-keyring-daemon', ['--foreground', '--replace', '--unlock', '--components=secrets'], { env: { ...process.env, HOME: home }, stdio: ['pipe', 'pipe', 'pipe'] });
    const keep = (d) => (output = (output + d.toString()).slice(-4000));
    daemon.stdout.on('data', keep);
    daemon.stderr.on('data', keep);
    daemon.stdin.end(TEST_KEYRING_PASSWORD);
    daemon.on('exit', (code, signal) => {
      if (stopping) return;
      const how = signal ? `signal ${signal}` : `exit code ${code}`;
      endings.push(`${time()} ${how}`);
      console.error(`\n[test keyring] ${time()}: gnome-keyring-daemon ended (${how}) after ${Math.round((Date.now() - startedAt) / 1000)} s; tests using the keychain at this moment fail. Its last output:\n${output.trim() || '(none)'}\n[test keyring] starting it again, unlocked, on the same files.`);
      start().catch((e) => console.error(`[test keyring] could not start it again: ${e.message}`));
    });
    await ready(daemon);
  };
  await start();
  return {
    report: () => (endings.length ? `the test keyring daemon ended ${endings.length} time(s) during the run and was started again (${endings.join(', ')})` : null),
    stop: () => {
      stopping = true;
      daemon.kill('SIGTERM');
    },
  };
}
