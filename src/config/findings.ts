// What each compile step hands back: its part of the compiled config, and what it found wrong
// (problems: the config is refused) or worth saying (warnings). The steps return these instead of
// filling arrays they are given, so each can be read, and tested, on its own.
import type { ConfigProblem } from '../errors.ts';

export interface Checked<T> {
  readonly value: T;
  readonly problems: readonly ConfigProblem[];
  readonly warnings: readonly string[];
}

/** The problems and warnings of one step, or of several steps in the order they ran. */
export class Findings {
  readonly problems: ConfigProblem[] = [];
  readonly warnings: string[] = [];

  problem(path: string, message: string): void {
    this.problems.push({ path, message });
  }

  warn(message: string): void {
    this.warnings.push(message);
  }

  /** Keeps what a sub-step found, and hands back its value. */
  take<T>(step: Checked<T>): T {
    this.problems.push(...step.problems);
    this.warnings.push(...step.warnings);
    return step.value;
  }

  /** `value` with everything found so far. */
  result<T>(value: T): Checked<T> {
    return { value, problems: this.problems, warnings: this.warnings };
  }
}
