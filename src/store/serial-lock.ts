/** Runs async sections one at a time, in arrival order. */
export class SerialLock {
  private tail: Promise<void> = Promise.resolve();
  private held = 0;

  get busy(): boolean {
    return this.held > 0;
  }

  async run<T>(section: () => Promise<T>): Promise<T> {
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    this.held += 1;
    try {
      await previous;
      return await section();
    } finally {
      this.held -= 1;
      release();
    }
  }
}
