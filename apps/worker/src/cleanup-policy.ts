// The cleanup commands' policy file: loaded, or the process ends with exit code 2 and the line and field at fault.
import { loadPolicy, PolicyError, type CleanupPolicy } from '@staticreg/cleanup';

export async function loadPolicyOrExit(path: string): Promise<CleanupPolicy> {
  try {
    return await loadPolicy(path);
  } catch (error) {
    if (!(error instanceof PolicyError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
}
