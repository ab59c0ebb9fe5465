// Types for bin/cli-entry.js, so the CLI's tests can import it.
export declare function newestSourceMs(root: URL): number | null;
export declare function pickCliEntry(root?: URL): { kind: 'built' | 'sources'; url: string };
