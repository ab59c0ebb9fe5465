// Runs sandboxed before the page: exposes window.qbTokens and nothing else.
import { contextBridge, ipcRenderer } from 'electron';
import { exposeBridge } from './bridge';

exposeBridge(contextBridge, ipcRenderer);
