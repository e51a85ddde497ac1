/** The pipelined crash points (see crash-points-pipelined.ts) on anvil. */
import { crashPointsPipelined } from './crash-points-pipelined.ts';

crashPointsPipelined('anvil');
