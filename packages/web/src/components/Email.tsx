import { Fragment } from 'react';

/**
 * An email address that, when it must wrap, wraps after the "@" or before a dot of the domain
 * rather than in the middle of a word. The text is unchanged (`<wbr>` adds none). In a link or
 * a table cell (`truncate`) it stays on one line, cut with an ellipsis, whole in its title: a
 * link's accessible name stays one plain text.
 */
export function Email({ address, truncate = false }: { address: string; truncate?: boolean }) {
  if (truncate) {
    return (
      <span className="email truncate" title={address}>
        {address}
      </span>
    );
  }
  const at = address.lastIndexOf('@');
  if (at < 0) return <span className="email">{address}</span>;
  const [first, ...rest] = address.slice(at + 1).split('.');
  return (
    <span className="email">
      {address.slice(0, at)}@<wbr />
      {first}
      {rest.map((part, i) => (
        <Fragment key={i}>
          <wbr />.{part}
        </Fragment>
      ))}
    </span>
  );
}
