import { Button } from '@zendeskgarden/react-buttons';
import { Progress } from '@zendeskgarden/react-loaders';
import { useRef, useState, type DragEvent } from 'react';
import styled from 'styled-components';
import { ApiError, uploadAttachment } from '../api/client';
import { COLORS } from '../colors';
import { formatBytes } from '../format';

export interface PendingUpload {
  key: string;
  name: string;
  size: number;
  progress: number;
  id: string | null;
  error: string | null;
}

const Drop = styled.div<{ $over: boolean }>`
  border: 2px dashed ${(p) => (p.$over ? COLORS.accent : COLORS.border)};
  border-radius: 4px;
  padding: 8px;
  display: flex;
  flex-direction: column;
  gap: 6px;
`;
const Row = styled.li`
  display: grid;
  grid-template-columns: 1fr auto;
  gap: 4px 8px;
  align-items: center;
  font-size: 13px;
`;
const ErrorText = styled.span`
  color: ${COLORS.danger};
  grid-column: 1 / -1;
`;

/** Why an upload failed, in words: a size refusal names the file's size and the limit. */
export function uploadError(err: unknown, size: number): string {
  if (err instanceof ApiError && err.status === 413) {
    const limit = /(\d+) bytes/.exec(err.message);
    return limit ? `Too large (${formatBytes(size)}): attachments are limited to ${formatBytes(Number(limit[1]))}.` : `Too large (${formatBytes(size)}): ${err.message}`;
  }
  return err instanceof Error ? err.message : 'The upload failed.';
}

/** Attach files: a picker and a drop zone; each file uploads at once, with progress and its error. */
export function AttachFiles({ uploads, onChange }: { uploads: PendingUpload[]; onChange: (next: (current: PendingUpload[]) => PendingUpload[]) => void }) {
  const input = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);

  const add = (files: FileList | File[]) => {
    for (const file of Array.from(files)) {
      const key = `${file.name}-${file.size}-${Math.random().toString(36).slice(2)}`;
      onChange((current) => [...current, { key, name: file.name, size: file.size, progress: 0, id: null, error: null }]);
      const update = (patch: Partial<PendingUpload>) => onChange((current) => current.map((u) => (u.key === key ? { ...u, ...patch } : u)));
      uploadAttachment(file, (progress) => update({ progress }))
        .then((res) => update({ id: res.id, progress: 1 }))
        .catch((err: unknown) => update({ error: uploadError(err, file.size) }));
    }
  };

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    if (e.dataTransfer.files.length) add(e.dataTransfer.files);
  };

  return (
    <Drop
      $over={over}
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={onDrop}
    >
      <div style={{ display: 'flex', gap: 8, alignItems: 'center', flexWrap: 'wrap' }}>
        <Button size="small" onClick={() => input.current?.click()}>
          Attach files
        </Button>
        <span style={{ color: COLORS.muted, fontSize: 13 }}>or drop files here</span>
        <input
          ref={input}
          type="file"
          multiple
          hidden
          aria-label="Attach files"
          onChange={(e) => {
            if (e.target.files) add(e.target.files);
            e.target.value = '';
          }}
        />
      </div>
      {uploads.length ? (
        <ul style={{ listStyle: 'none', margin: 0, padding: 0, display: 'flex', flexDirection: 'column', gap: 6 }} aria-label="Attached files">
          {uploads.map((u) => (
            <Row key={u.key}>
              <span>
                {u.name} ({formatBytes(u.size)}){u.id ? ' — uploaded' : ''}
              </span>
              <Button size="small" isBasic onClick={() => onChange((current) => current.filter((x) => x.key !== u.key))} aria-label={`Remove ${u.name}`}>
                Remove
              </Button>
              {u.error ? (
                <ErrorText role="alert">
                  {u.name}: {u.error}
                </ErrorText>
              ) : u.id ? null : (
                <Progress value={Math.round(u.progress * 100)} aria-label={`Uploading ${u.name}`} style={{ gridColumn: '1 / -1', margin: 0 }} />
              )}
            </Row>
          ))}
        </ul>
      ) : null}
    </Drop>
  );
}

/** Uploaded ids, or why the message cannot go yet. */
export function readyAttachments(uploads: PendingUpload[]): { ids: string[]; blocker: string | null } {
  if (uploads.some((u) => !u.id && !u.error)) return { ids: [], blocker: 'Wait for the uploads to finish.' };
  if (uploads.some((u) => u.error)) return { ids: [], blocker: 'Remove the files that failed to upload.' };
  return { ids: uploads.map((u) => u.id!).filter(Boolean), blocker: null };
}
