/**
 * The `proofmark` command line. Commands load their modules only when run, so `--help` stays fast
 * and `serve` alone loads the service.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { formatError } from './output.ts';

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

function intAtLeast(min: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
      throw new InvalidArgumentError(`must be a whole number >= ${min}.`);
    }
    return Number(value);
  };
}

function httpUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('must be an http(s) URL.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new InvalidArgumentError('must be an http(s) URL.');
  return value;
}

function address(value: string): string {
  if (!ADDRESS.test(value)) throw new InvalidArgumentError('must be a 0x-prefixed 20-byte address.');
  return value;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** --api and --admin-token-file, on every command that talks to the service as its operator. */
function withAdminApi(command: Command): Command {
  return command
    .addOption(
      new Option(
        '--api <url>',
        'service base URL (default: $PROOFMARK_API or http://127.0.0.1:8080)',
      ).argParser(httpUrl),
    )
    .option('--admin-token-file <path>', 'file holding the admin token (default: $ADMIN_TOKEN)');
}

export function buildProgram(): Command {
  const program = new Command('proofmark')
    .description('Provenance for digital goods: lifecycle records anchored as Merkle roots on an EVM chain.')
    .option('--verbose', 'show stack traces with errors')
    .exitOverride()
    .showSuggestionAfterError();

  program
    .command('serve')
    .description('start the proofmark service (settings from the environment; see README)')
    .action(async () => {
      const { startServer } = await import('../server.ts');
      await startServer(process.env);
    });

  program
    .command('verify')
    .description('verify a proof bundle: the pure checks, then the anchor on the chain the bundle names')
    .argument(
      '<bundle>',
      'a proofmark.bundle.v1 JSON file, or an http(s) URL of a bundle or of /v1/records/:id/proofs',
    )
    .addOption(
      new Option('--rpc <url>', 'JSON-RPC endpoint of the chain named in the bundle').argParser(httpUrl),
    )
    .addOption(
      new Option('--confirmations <n>', 'blocks the anchor must be deep').argParser(intAtLeast(1)).default(1),
    )
    .addOption(
      new Option(
        '--contract <address>',
        "the AnchorRegistry you trust: a bundle naming another is a contract mismatch (default: the bundle's)",
      ).argParser(address),
    )
    .addOption(
      new Option(
        '--api <url>',
        "the service to ask (untrusted) for the record's latest state proof, checked against the chain's latest anchored state root",
      ).argParser(httpUrl),
    )
    .addHelpText(
      'after',
      '\nExit status is 0 only when every check holds, including the chain: without --rpc the chain step\n' +
        'is not done and the command fails after the pure checks. With --api, 3 when a later event\n' +
        'superseded the bundle (revoked, refunded, ...), 1 when freshness could not be confirmed.',
    )
    .action(
      async (
        bundle: string,
        opts: { rpc?: string; confirmations: number; contract?: string; api?: string },
      ) => {
        const { verifyCommand } = await import('./commands/verify.ts');
        await verifyCommand(bundle, opts);
      },
    );

  program
    .command('audit')
    .description("check every anchored batch on chain against the service's leaves, and the reverse")
    .requiredOption('--api <url>', 'service base URL', httpUrl)
    .requiredOption('--rpc <url>', 'JSON-RPC endpoint of the chain', httpUrl)
    .requiredOption('--contract <address>', 'the AnchorRegistry address', address)
    .option('--json', 'print the report as JSON on stdout')
    .addOption(new Option('--from-block <n>', 'first block to scan').argParser(intAtLeast(0)).default(0))
    .action(
      async (opts: { api: string; rpc: string; contract: string; json?: boolean; fromBlock: number }) => {
        const { auditCommand } = await import('./commands/audit.ts');
        await auditCommand(opts);
      },
    );

  program
    .command('deploy')
    .description('deploy an AnchorRegistry and grant ANCHORER_ROLE')
    .requiredOption('--rpc <url>', 'JSON-RPC endpoint of the chain', httpUrl)
    .option(
      '--key <hex>',
      'deployer private key (prefer $DEPLOYER_PRIVATE_KEY: keeps it out of shell history)',
    )
    .option('--anchorer <address>', 'address to receive ANCHORER_ROLE (default: the deployer)', address)
    .option('--json', 'print {"address","chainId","txHash"} as the last line of stdout')
    .action(async (opts: { rpc: string; key?: string; anchorer?: string; json?: boolean }) => {
      const { deployCommand } = await import('./commands/deploy.ts');
      await deployCommand(opts);
    });

  const merchant = program
    .command('merchant')
    .description('administer merchants (needs the admin token)')
    .addHelpText(
      'after',
      "\nAn id that starts with '-' goes last, after '--': proofmark merchant strike --reason R -- -abc",
    );
  withAdminApi(merchant.command('create'))
    .description('admit a merchant; prints its API key once')
    .requiredOption('--name <name>', 'merchant name')
    .option('--email <email>', 'contact email')
    .action(async (opts) => {
      const { merchantCreate } = await import('./commands/merchant.ts');
      await merchantCreate(opts);
    });
  withAdminApi(merchant.command('verify'))
    .description('record evidence of authorisation and mark the merchant verified')
    .argument('<id>', 'merchant id')
    .option('--evidence <description=sha256hex>', 'a document and its sha256 (repeatable)', collect)
    .action(async (id: string, opts) => {
      const { merchantVerify } = await import('./commands/merchant.ts');
      await merchantVerify(id, opts);
    });
  withAdminApi(merchant.command('strike'))
    .description('strike a merchant: the second strike suspends it')
    .argument('<id>', 'merchant id')
    .requiredOption('--reason <text>', 'why')
    .action(async (id: string, opts) => {
      const { merchantStrike } = await import('./commands/merchant.ts');
      await merchantStrike(id, opts);
    });
  withAdminApi(merchant.command('strikes'))
    .description("list a merchant's strikes with their reasons (the public profile shows no reasons)")
    .argument('<id>', 'merchant id')
    .action(async (id: string, opts) => {
      const { merchantStrikes } = await import('./commands/merchant.ts');
      await merchantStrikes(id, opts);
    });
  withAdminApi(merchant.command('rotate-key'))
    .description("issue a new API key; the merchant's old keys stop working")
    .argument('<id>', 'merchant id')
    .action(async (id: string, opts) => {
      const { merchantRotateKey } = await import('./commands/merchant.ts');
      await merchantRotateKey(id, opts);
    });

  const admin = program
    .command('admin')
    .description("the operator's acts on records (needs the admin token)")
    .addHelpText(
      'after',
      "\nAn id that starts with '-' goes last, after '--': proofmark admin erase-event --by R -- -abc 1",
    );
  withAdminApi(admin.command('erase-event'))
    .description(
      "erase one event's content (personal data published by mistake): a tombstone replaces it; " +
        "its leaf and every other event's proof stay valid, its own bundle no longer verifies",
    )
    .argument('<recordId>', 'record id')
    .argument('<seq>', 'event number (the issuance, 0, cannot be erased)')
    .requiredOption(
      '--by <who>',
      'who erases it, as the tombstone will say (a role or a ticket, not a person)',
    )
    .action(async (recordId: string, seq: string, opts) => {
      const { adminEraseEvent } = await import('./commands/admin.ts');
      await adminEraseEvent(recordId, seq, opts);
    });
  withAdminApi(admin.command('duplicates'))
    .description(
      'registrations refused because a live record already held the key or serial, newest first ' +
        '(which merchant, when, which record held it; never the secret)',
    )
    .option('--merchant <id>', "only this merchant's refused registrations")
    .option('--limit <n>', 'at most this many (1 to 1000, default 100)')
    .action(async (opts) => {
      const { adminDuplicates } = await import('./commands/admin.ts');
      await adminDuplicates(opts);
    });

  const webhook = program
    .command('webhook')
    .description("the operator's webhook endpoints (needs the admin token; merchants use the API)")
    .addHelpText(
      'after',
      '\nEach webhook is signed per the Standard Webhooks specification: verify it with the secret that\n' +
        '`create` and `rotate-secret` print once (see docs/operations.md).',
    );
  withAdminApi(webhook.command('create'))
    .description('register an endpoint; prints its signing secret once')
    .requiredOption('--url <url>', 'where webhooks are POSTed (http or https)', httpUrl)
    .option('--event <type>', 'an event type to receive (repeatable; default: every operator type)', collect)
    .option('--description <text>', 'a note for yourself')
    .action(async (opts) => {
      const { webhookCreate } = await import('./commands/webhook.ts');
      await webhookCreate(opts);
    });
  withAdminApi(webhook.command('list'))
    .description("list the operator's endpoints")
    .action(async (opts) => {
      const { webhookList } = await import('./commands/webhook.ts');
      await webhookList(opts);
    });
  withAdminApi(webhook.command('delete'))
    .description('delete an endpoint: it gets nothing more; its delivery log stays readable')
    .argument('<id>', 'endpoint id')
    .action(async (id: string, opts) => {
      const { webhookDelete } = await import('./commands/webhook.ts');
      await webhookDelete(id, opts);
    });
  withAdminApi(webhook.command('rotate-secret'))
    .description('a new signing secret, printed once; the old one also signs for 24 hours')
    .argument('<id>', 'endpoint id')
    .action(async (id: string, opts) => {
      const { webhookRotateSecret } = await import('./commands/webhook.ts');
      await webhookRotateSecret(id, opts);
    });
  withAdminApi(webhook.command('deliveries'))
    .description("an endpoint's delivery log, newest first, with each message's attempts")
    .argument('<id>', 'endpoint id')
    .addOption(new Option('--limit <n>', 'messages per page (1-100, default 50)').argParser(intAtLeast(1)))
    .option('--before <cursor>', 'the "next" of the page before')
    .action(async (id: string, opts) => {
      const { webhookDeliveries } = await import('./commands/webhook.ts');
      await webhookDeliveries(id, opts);
    });
  withAdminApi(webhook.command('replay'))
    .description('send a message to the endpoint again (same webhook-id)')
    .argument('<id>', 'endpoint id')
    .argument('<messageId>', 'message id (msg_…)')
    .action(async (id: string, messageId: string, opts) => {
      const { webhookReplay } = await import('./commands/webhook.ts');
      await webhookReplay(id, messageId, opts);
    });

  const records = program.command('records').description("a merchant's records (needs its API key)");
  records
    .command('import')
    .description(
      'register stock from a file: a CSV with a header naming record fields, serial,secret lines, or ' +
        'one secret per line; in requests of 1,000, safe to run again after an interruption',
    )
    .argument('<file>', 'the file to import')
    .addOption(
      new Option(
        '--api <url>',
        'service base URL (default: $PROOFMARK_API or http://127.0.0.1:8080)',
      ).argParser(httpUrl),
    )
    .option('--key <apiKey>', "the merchant's API key (default: $PROOFMARK_API_KEY)")
    .option(
      '--format <format>',
      'csv, pairs (serial,secret) or secrets (default: csv for .csv, else by the first line)',
    )
    .option('--kind <kind>', 'licence, account or card: for every record of a plain file (a CSV default)')
    .option('--sku <sku>', 'the SKU of every record of a plain file (a CSV default)')
    .option('--product <name>', 'the product name of every record of a plain file (a CSV default)')
    .option(
      '--out <file>',
      'write line,externalId,recordId,verifyUrl,status of every registered line (QR labels)',
    )
    .option('--concurrency <n>', 'requests in flight (default 4)', intAtLeast(1))
    .action(async (file: string, opts) => {
      const { recordsImport } = await import('./commands/records.ts');
      await recordsImport(file, opts);
    });

  const dispute = program
    .command('dispute')
    .description("the operator's arbitration of buyers' disputes (needs the admin token)")
    .addHelpText(
      'after',
      '\nA merchant answers a dispute through the API before its deadline (DISPUTE_RESPONSE_HOURS); an\n' +
        'unanswered one is decided for the buyer at the deadline. Contested ones wait for `decide`.',
    );
  withAdminApi(dispute.command('list'))
    .description('disputes waiting, oldest first: open (for the merchant) and answered (for you)')
    .option('--status <status>', 'only open, answered or decided ones')
    .action(async (opts) => {
      const { disputeList } = await import('./commands/dispute.ts');
      await disputeList(opts);
    });
  withAdminApi(dispute.command('show'))
    .description("one dispute: both sides' statements, their files' SHA-256, the derived evidence")
    .argument('<id>', 'dispute id (d_…)')
    .action(async (id: string, opts) => {
      const { disputeShow } = await import('./commands/dispute.ts');
      await disputeShow(id, opts);
    });
  withAdminApi(dispute.command('decide'))
    .description('decide a dispute: for the buyer refunds the item (and --strike strikes the merchant)')
    .argument('<id>', 'dispute id (d_…)')
    .requiredOption('--for <side>', 'buyer or merchant')
    .option('--strike', 'with --for buyer: a strike on the merchant (the second suspends it)')
    .option('--note <text>', "the decision's reasons, kept for the operator")
    .action(async (id: string, opts) => {
      const { disputeDecide } = await import('./commands/dispute.ts');
      await disputeDecide(id, opts);
    });

  withAdminApi(program.command('demo'))
    .description('fill a running service with sample merchants, records and events, then seal a batch')
    .action(async (opts) => {
      const { demoCommand } = await import('./commands/demo.ts');
      await demoCommand(opts);
    });

  return program;
}

/** Runs the CLI; resolves to the exit code (the service keeps the process alive on its own). */
export async function run(argv: string[] = process.argv): Promise<number> {
  const verbose = argv.includes('--verbose');
  // `proofmark ... | head`: a reader that stops early is not an error worth a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit();
  });
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has already printed its message (or the help); usage errors exit 2.
      return err.exitCode === 0 ? 0 : 2;
    }
    process.stderr.write(`${formatError(err, verbose)}\n`);
    const code = (err as { exitCode?: unknown }).exitCode;
    return typeof code === 'number' && code > 0 ? code : 1;
  }
}
