import type { Page } from '@platform/messaging-client/contract';

/** A page as both transports answer it: the items under the response's key, the cursor only when there is a next page. */
export function pageResponse<K extends string, T>(key: K, page: Page<T>): { [P in K]: T[] } & { nextCursor?: string } {
  const response = { [key]: page.items } as { [P in K]: T[] } & { nextCursor?: string };
  if (page.nextCursor) response.nextCursor = page.nextCursor;
  return response;
}
