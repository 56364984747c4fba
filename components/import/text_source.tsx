/** A text the import reads: from a file, or typed/pasted into the text area. */

export async function readFile(input: HTMLInputElement): Promise<string> {
  const file = input.files?.[0];
  return file ? await file.text() : "";
}

/** A file input and the text area that shows (and edits) what it read. */
export function TextSource(
  props: {
    id: string;
    /** The file input's label. */
    label: string;
    accept: string;
    value: string;
    onChange: (text: string) => void;
    /** A visible label for the text area; without it, the text area is named by `label`. */
    pasteLabel?: string;
  },
) {
  return (
    <>
      <label for={`${props.id}-file`}>{props.label}</label>
      <input
        id={`${props.id}-file`}
        type="file"
        accept={props.accept}
        onChange={async (e) => props.onChange(await readFile(e.currentTarget))}
      />
      {props.pasteLabel && <label for={`${props.id}-text`}>{props.pasteLabel}</label>}
      <textarea
        id={`${props.id}-text`}
        aria-label={props.pasteLabel ? undefined : props.label}
        value={props.value}
        onInput={(e) => props.onChange(e.currentTarget.value)}
      />
    </>
  );
}
