/**
 * When an anchor is final (CONFIRMATIONS): a depth in blocks, or the node's own mark, its block
 * tagged `safe` or `finalized`. Post-Merge Ethereum and the rollups publish these tags; a chain whose
 * node does not answer them falls back to a depth.
 */
import type { AnchorChain } from './registry.ts';

/** The node's block tags a finality rule may name. */
export type FinalityTag = 'safe' | 'finalized';

/**
 * A depth: the anchoring block and `blocks - 1` more on top of it. A tag: the node's block with that
 * tag is at or above the anchoring block (which is still on the canonical chain).
 */
export type FinalityRule = { kind: 'depth'; blocks: number } | { kind: 'tag'; tag: FinalityTag };

/** What an operator asked for: a rule, or (a real chain without CONFIRMATIONS) the tag if the node has it. */
export type FinalitySetting = FinalityRule | { kind: 'tag-or-depth'; tag: FinalityTag; blocks: number };

/** The rule in words, for the log and for messages. */
export function describeFinality(rule: FinalityRule): string {
  return rule.kind === 'depth'
    ? `${rule.blocks} confirmation${rule.blocks === 1 ? '' : 's'}`
    : `at or below the node's ${rule.tag} block`;
}

/**
 * The rule to anchor by, and why: a tag is used only if the node answers it now (a block with that
 * tag). Asked for a tag outright, a node without it is an error that stops the start; asked for the
 * tag if the node has it, such a node gets the depth instead.
 */
export async function chooseFinality(
  setting: FinalitySetting,
  chain: Pick<AnchorChain, 'taggedBlock'>,
): Promise<{ rule: FinalityRule; why: string }> {
  if (setting.kind === 'depth') return { rule: setting, why: 'CONFIRMATIONS is a number of blocks' };
  const answer = await chain.taggedBlock(setting.tag).then(
    (block) => (block === null ? `it has no ${setting.tag} block yet` : null),
    (err: Error) => `it does not answer the "${setting.tag}" block tag (${err.message})`,
  );
  if (answer === null) {
    return {
      rule: { kind: 'tag', tag: setting.tag },
      why:
        setting.kind === 'tag'
          ? `CONFIRMATIONS is ${setting.tag}`
          : `CONFIRMATIONS is unset and the node answers the ${setting.tag} tag`,
    };
  }
  if (setting.kind === 'tag') {
    throw new Error(
      `CONFIRMATIONS is ${setting.tag}, but the node cannot say which block that is: ${answer}`,
    );
  }
  return {
    rule: { kind: 'depth', blocks: setting.blocks },
    why: `CONFIRMATIONS is unset and the node cannot give its ${setting.tag} block: ${answer}`,
  };
}
