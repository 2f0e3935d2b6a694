// The hidden file input behind an "open ISO" button: it accepts ISO images, hands on the one
// file picked and clears itself, so picking the same file again fires again.
import type { Ref } from 'react';

export interface IsoFileInputProps {
  readonly ref: Ref<HTMLInputElement>;
  readonly testId: string;
  readonly onFile: (file: File) => void;
}

export function IsoFileInput({ ref, testId, onFile }: IsoFileInputProps) {
  return (
    <input
      ref={ref}
      type="file"
      accept=".iso,application/x-iso9660-image"
      hidden
      data-testid={testId}
      onChange={(e) => {
        const file = e.target.files?.[0];
        e.target.value = '';
        if (file) onFile(file);
      }}
    />
  );
}
