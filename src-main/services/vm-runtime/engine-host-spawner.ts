// How an engine host process comes to life is a strategy the VM runtime is given: a detached
// Node process (`maru serve`, default), one the CLI started early (pre-warmed), or an Electron
// utility process (the desktop, in src-main/electron). The runtime only sees this interface.

/** What a spawner needs to start one engine host for one VM. */
export interface EngineHostLaunch {
  readonly vmId: string;
  readonly vmName: string;
  /** dist/engine-host/engine-host.js */
  readonly engineHostPath: string;
  /** run/<uuid>/launch.json, written and checked by the runtime. */
  readonly launchFile: string;
  /** The VM's engine-host.log (stdout and stderr go there). */
  readonly logFile: string;
  readonly env: NodeJS.ProcessEnv;
}

/** A spawned engine host while the runtime waits for it to report. */
export interface SpawnedEngineHost {
  /** Messages from the engine host (EngineHostParentMessage, unvalidated). */
  onMessage(listener: (message: unknown) => void): void;
  onExit(listener: (code: number | null, signal: string | null) => void): void;
  onError(listener: (err: Error) => void): void;
  /** Asks it to end (it stops its VM first). */
  kill(): void;
  /**
   * The start is decided: a detached host is let go so it outlives the launcher; a utility
   * process stays owned by the app. Exit listeners keep working where the process can tell.
   */
  release(): void;
}

export interface EngineHostSpawner {
  spawn(launch: EngineHostLaunch): SpawnedEngineHost;
}
