/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4), for tests: it throws on
 * anything a Prometheus server would refuse or misread, and checks what the format requires of each
 * family: one HELP and one TYPE before its samples, samples of a family together, no sample twice,
 * and histograms whose buckets are cumulative and end in +Inf equal to _count.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
/** The suffixes a sample of each type may add to its family's name. */
const SUFFIXES: Record<Family['type'], string[]> = {
  counter: [''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

/** Parses an exposition into its families, by name; throws with the line number on any fault. */
export function parsePrometheusText(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a line feed');
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  let current: Family | null = null;
  const lines = text.slice(0, -1).split('\n');
  lines.forEach((line, i) => {
    const fail = (why: string): never => {
      throw new Error(`line ${i + 1}: ${why}: ${JSON.stringify(line)}`);
    };
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) return; // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!NAME.test(name)) fail('bad metric name');
      let family = families.get(name);
      if (!family) {
        family = { name, help: '', type: 'untyped', samples: [] };
        families.set(name, family);
      } else if (family.samples.length > 0) fail(`${kind} after the samples of ${name}`);
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) fail('unknown type');
        family.type = rest as Family['type'];
      } else {
        family.help = unescapeHelp(rest, fail);
      }
      current = family;
      return;
    }
    const sample = parseSample(line, fail);
    const family = familyOf(sample.name, families);
    if (!family) fail('a sample with no HELP/TYPE');
    if (family !== current) fail(`a sample of ${family!.name} outside its family's block`);
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seen.has(key)) fail('a sample listed twice');
    seen.add(key);
    family!.samples.push(sample);
  });
  for (const family of families.values()) {
    if (!family.help) throw new Error(`${family.name} has no HELP`);
    if (family.type === 'histogram') checkHistogram(family);
  }
  return families;
}

/** The value of the sample `name` with exactly `labels` (undefined when there is none). */
export function valueOf(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const family = familyOf(name, families);
  const want = JSON.stringify(Object.entries(labels).sort());
  return family?.samples.find(
    (s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want,
  )?.value;
}

function familyOf(sampleName: string, families: Map<string, Family>): Family | undefined {
  for (const [name, family] of families) {
    for (const suffix of SUFFIXES[family.type]) if (sampleName === name + suffix) return family;
  }
  return undefined;
}

function parseSample(line: string, fail: (why: string) => never): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)( -?\d+)?$/.exec(line);
  if (!m) fail('not a sample line');
  const [, name, labelText, valueText] = m!;
  return {
    name: name!,
    labels: labelText ? parseLabels(labelText, fail) : {},
    value: parseValue(valueText!, fail),
  };
}

function parseLabels(text: string, fail: (why: string) => never): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = text.slice(1, -1);
  while (rest.length > 0) {
    const m = /^([^=]+)="((?:[^"\\\n]|\\[\\"n])*)"(,?)/.exec(rest);
    if (!m) fail('bad labels');
    const [whole, name, value, comma] = m!;
    if (!LABEL_NAME.test(name!) || name!.startsWith('__')) fail(`bad label name ${name}`);
    if (name! in labels) fail(`label ${name} twice`);
    labels[name!] = value!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    rest = rest.slice(whole!.length);
    if (!comma && rest.length > 0) fail('labels not separated by commas');
  }
  return labels;
}

/** As Go's strconv.ParseFloat, which Prometheus uses: decimal or exponent forms, NaN and ±Inf in any case. */
function parseValue(text: string, fail: (why: string) => never): number {
  if (/^nan$/i.test(text)) return Number.NaN;
  if (/^[+]?inf(inity)?$/i.test(text)) return Number.POSITIVE_INFINITY;
  if (/^-inf(inity)?$/i.test(text)) return Number.NEGATIVE_INFINITY;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) fail('bad value');
  return Number(text);
}

function unescapeHelp(text: string, fail: (why: string) => never): string {
  if (/\\[^\\n]/.test(text.replace(/\\\\/g, ''))) fail('bad escape in HELP');
  return text.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

/** Buckets cumulative and in order of `le`, one +Inf bucket equal to _count, per label set. */
function checkHistogram(family: Family): void {
  const series = new Map<string, Sample[]>();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    series.set(key, [...(series.get(key) ?? []), s]);
    if (s.name.endsWith('_bucket') && le === undefined)
      throw new Error(`${family.name}: a bucket without le`);
  }
  for (const [key, samples] of series) {
    const buckets = samples.filter((s) => s.name.endsWith('_bucket'));
    const count = samples.find((s) => s.name.endsWith('_count'));
    if (!count || !samples.some((s) => s.name.endsWith('_sum'))) {
      throw new Error(`${family.name}${key}: no _sum or _count`);
    }
    const bounds = buckets.map((b) =>
      parseValue(b.labels.le!, (why) => {
        throw new Error(`${family.name}: le ${why}`);
      }),
    );
    for (let i = 1; i < buckets.length; i++) {
      if (!(bounds[i]! > bounds[i - 1]!)) throw new Error(`${family.name}${key}: buckets out of order`);
      if (buckets[i]!.value < buckets[i - 1]!.value)
        throw new Error(`${family.name}${key}: buckets not cumulative`);
    }
    if (bounds.at(-1) !== Number.POSITIVE_INFINITY) throw new Error(`${family.name}${key}: no +Inf bucket`);
    if (buckets.at(-1)!.value !== count.value)
      throw new Error(`${family.name}${key}: +Inf bucket is not _count`);
  }
}
