// A value a component asks the services for when it mounts or its inputs change: null until
// it arrives (or when the request failed, or there is nothing to ask); an answer that comes
// after the inputs changed is dropped.
import { useEffect, useState, type DependencyList } from 'react';

export function useAsyncValue<T>(load: () => Promise<T> | undefined, deps: DependencyList): T | null {
  const [value, setValue] = useState<T | null>(null);
  useEffect(() => {
    let live = true;
    setValue(null);
    load()?.then(
      (v) => live && setValue(v),
      () => undefined,
    );
    return () => {
      live = false;
    };
    // `load` is a new closure each render; `deps` are what it reads.
  }, deps);
  return value;
}
