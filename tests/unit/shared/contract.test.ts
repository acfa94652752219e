/**
 * The contract table: each command defined once (input schema + result type), with the
 * name list, the input map and the result types derived from that one entry — checked
 * at run time (the derived values) and by the type checker (expectTypeOf, @ts-expect-error;
 * `npx tsc -p tsconfig.node.json` fails if a type-level line here stops holding).
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import {
  COMMANDS,
  commandInputs,
  commands,
  returns,
  type CommandArgs,
  type CommandInput,
  type CommandName,
  type CommandParsedInput,
  type CommandResult,
  type CommandResults,
  type Returns,
} from '../../../electron/shared/ipc/index.ts';
import type { AppInfo, Server, ServerInput } from '../../../electron/shared/domain.ts';
import type { Engine } from '../../../electron/engine/index.ts';

describe('the contract table', () => {
  it('derives the name list from the table, in table order, each name once', () => {
    expect(COMMANDS).toEqual(Object.keys(commands));
    expect(new Set(COMMANDS).size).toBe(COMMANDS.length);
    expect(COMMANDS.length).toBeGreaterThan(40);
    for (const name of COMMANDS) expect(name).toMatch(/^[a-z0-9]+\.[a-zA-Z]+$/);
    expect(Object.isFrozen(COMMANDS)).toBe(true);
  });

  it('derives the input map from the table: each command parses with its entry’s schema', () => {
    expect(Object.keys(commandInputs)).toEqual(COMMANDS);
    for (const name of COMMANDS) expect(commandInputs[name], name).toBe(commands[name].input);
    // The entry's schema is what answers: a bad id for servers.delete is refused by it.
    expect(commandInputs['servers.delete'].safeParse({ id: 5 }).success).toBe(false);
    expect(commandInputs['servers.delete'].safeParse({ id: 'srv_1' }).success).toBe(true);
    expect(commandInputs['app.info'].safeParse(undefined)).toEqual({ success: true, data: undefined });
  });

  it('carries result types for the compiler only: every entry’s `result` is the same empty object', () => {
    const marker = returns<AppInfo>();
    expect(Object.keys(marker)).toEqual([]);
    for (const name of COMMANDS) expect(commands[name].result, name).toBe(marker);
  });

  it('types a command’s input and result from its single entry', () => {
    // The name list is the table's keys.
    expectTypeOf<CommandName>().toEqualTypeOf<keyof typeof commands>();
    expectTypeOf<'servers.delete'>().toExtend<CommandName>();
    expectTypeOf<'servers.frobnicate'>().not.toExtend<CommandName>();

    // Input: the entry's schema, before and after parsing.
    expectTypeOf<CommandInput<'servers.update'>>().toEqualTypeOf<z.input<(typeof commands)['servers.update']['input']>>();
    expectTypeOf<CommandParsedInput<'servers.update'>>().toEqualTypeOf<z.output<(typeof commands)['servers.update']['input']>>();
    expectTypeOf<CommandParsedInput<'servers.update'>>().toEqualTypeOf<{ id: string; server: z.output<typeof ServerInput>; basedOn?: string | undefined }>();
    expectTypeOf<(typeof commandInputs)['servers.update']>().toEqualTypeOf<(typeof commands)['servers.update']['input']>();

    // Result: the type given to the entry's returns<…>().
    expectTypeOf<(typeof commands)['servers.update']['result']>().toEqualTypeOf<Returns<Server>>();
    expectTypeOf<CommandResult<'servers.update'>>().toEqualTypeOf<Server>();
    expectTypeOf<CommandResults['app.info']>().toEqualTypeOf<AppInfo>();
    expectTypeOf<CommandResult<'servers.delete'>>().toEqualTypeOf<{ id: string }>();

    // A typed call's arguments: optional where the schema takes undefined, required elsewhere.
    expectTypeOf<CommandArgs<'servers.list'>>().toEqualTypeOf<[input?: CommandInput<'servers.list'>]>();
    expectTypeOf<CommandArgs<'servers.delete'>>().toEqualTypeOf<[input: { id: string }]>();
  });

  it('types the engine’s in-process call by the same entry (what the CLI uses)', () => {
    // Never called: the compiler checks these lines (an unused @ts-expect-error fails tsc).
    const typeOnly = async (engine: Engine) => {
      expectTypeOf(await engine.command('servers.list')).toEqualTypeOf<Server[]>();
      expectTypeOf(await engine.command('history.list', { limit: 5 })).toEqualTypeOf<CommandResult<'history.list'>>();
      // @ts-expect-error: servers.delete needs its input
      await engine.command('servers.delete');
      // @ts-expect-error: an id is a string
      await engine.command('servers.delete', { id: 5 });
      // @ts-expect-error: not a command
      await engine.command('servers.frobnicate');
    };
    expect(typeof typeOnly).toBe('function');
  });
});
