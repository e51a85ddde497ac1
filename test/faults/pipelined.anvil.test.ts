/** The pipelined anchoring faults (pipelined-suite.ts) on anvil. */
import { pipelinedSuite } from './pipelined-suite.ts';

pipelinedSuite('anvil');
