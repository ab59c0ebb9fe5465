// Helpers the emulator's own tests use to talk to it over real HTTP (no mocked fetch).
import type { EmulatorHandle } from './types';

export interface TokenCallOptions {
  auth?: 'basic' | 'post' | 'none';
  clientId?: string;
  clientSecret?: string;
  headers?: Record<string, string>;
  contentType?: string;
}

export interface JsonAnswer {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown> | null;
}

async function answer(response: Response): Promise<JsonAnswer> {
  const text = await response.text();
  let json: Record<string, unknown> | null;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = null;
  }
  return { status: response.status, headers: response.headers, text, json };
}

export async function tokenCall(
  emu: EmulatorHandle,
  fields: Record<string, string>,
  options: TokenCallOptions = {},
): Promise<JsonAnswer> {
  const clientId = options.clientId ?? emu.clientId;
  const clientSecret = options.clientSecret ?? emu.clientSecret;
  const auth = options.auth ?? 'basic';
  const form = new URLSearchParams(fields);
  const headers: Record<string, string> = {
    'content-type': options.contentType ?? 'application/x-www-form-urlencoded',
    accept: 'application/json',
    ...options.headers,
  };
  if (auth === 'basic')
    headers.authorization = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
  if (auth === 'post') {
    form.set('client_id', clientId);
    form.set('client_secret', clientSecret);
  }
  return answer(await fetch(emu.tokenUrl, { method: 'POST', headers, body: form.toString() }));
}

export function refresh(
  emu: EmulatorHandle,
  refreshToken: string,
  options: TokenCallOptions = {},
): Promise<JsonAnswer> {
  return tokenCall(emu, { grant_type: 'refresh_token', refresh_token: refreshToken }, options);
}

export async function apiGet(emu: EmulatorHandle, path: string, accessToken?: string): Promise<JsonAnswer> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (accessToken !== undefined) headers.authorization = `Bearer ${accessToken}`;
  return answer(await fetch(`${emu.apiBaseUrl}${path}`, { headers }));
}

export function companyInfoPath(realmId: string): string {
  return `/v3/company/${realmId}/companyinfo/${realmId}?minorversion=75`;
}

export async function control(
  emu: EmulatorHandle,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<JsonAnswer> {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.headers = { 'content-type': 'application/json' };
    init.body = JSON.stringify(body);
  }
  return answer(await fetch(`${emu.controlUrl}${path}`, init));
}

export function str(value: unknown): string {
  if (typeof value !== 'string') throw new Error(`expected a string, got ${typeof value}`);
  return value;
}
