// React access to the connections store (several companies), provided once at the root.
import { createContext, useContext } from 'react';
import { useStore } from 'zustand';
import type { ConnectionsState, ConnectionsStore } from './connections-store';

export const ConnectionsContext = createContext<ConnectionsStore | null>(null);

export function useConnections<T>(selector: (state: ConnectionsState) => T): T {
  const store = useContext(ConnectionsContext);
  if (!store) throw new Error('useConnections needs a ConnectionsContext provider');
  return useStore(store, selector);
}
