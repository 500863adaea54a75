import v8 from 'node:v8';
import vm from 'node:vm';

// Node's `gc`, enabled here rather than by a command-line flag, so a test or bench runs the same
// however it is started.
v8.setFlagsFromString('--expose-gc');

/** A full garbage collection of this process, now. */
export const collectGarbage = vm.runInNewContext('gc') as () => void;
