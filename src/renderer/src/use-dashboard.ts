// React access to the one dashboard store, provided once at the root.
import { createContext, useContext } from 'react';
import { useStore } from 'zustand';
import type { DashboardState, DashboardStore } from './store';

export const DashboardContext = createContext<DashboardStore | null>(null);

export function useDashboard<T>(selector: (state: DashboardState) => T): T {
  const store = useContext(DashboardContext);
  if (!store) throw new Error('useDashboard needs a DashboardContext provider');
  return useStore(store, selector);
}
