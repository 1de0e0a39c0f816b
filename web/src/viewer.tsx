/* The portal's HDF5 viewer: H5Web over the node's h5grove endpoints.
 *
 * The page (templates/viewer.html) says what to show in a JSON script tag
 * #viewer-settings: {"url": "/h5grove", "filepath": "42/scan.nxs", "initialPath": "/entry/data"}.
 * `filepath` is the catalogue's file id, never a path, followed by the file's
 * name, which H5Web shows at the root of its tree: the server reads only the
 * id, maps it to the file and checks that the caller may read it.
 */
import '@h5web/app/styles.css';

import { App, createBasicFetcher, H5GroveProvider } from '@h5web/app';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';

interface ViewerSettings {
  url: string;
  filepath: string;
  initialPath: string;
}

function readSettings(): ViewerSettings {
  const tag = document.getElementById('viewer-settings');
  if (!tag) {
    throw new Error('viewer: the page has no <script id="viewer-settings"> tag');
  }
  const settings = JSON.parse(tag.textContent ?? '') as Partial<ViewerSettings>;
  for (const key of ['url', 'filepath', 'initialPath'] as const) {
    if (typeof settings[key] !== 'string' || settings[key] === '') {
      throw new Error(`viewer: setting "${key}" is missing or not a string in #viewer-settings`);
    }
  }
  return settings as ViewerSettings;
}

// Same-origin cookies go along, so the same access policy applies once the portal has accounts.
const fetcher = createBasicFetcher({ credentials: 'same-origin' });

const { url, filepath, initialPath } = readSettings();
// Absolute: H5GroveProvider builds export links with `new URL(url + '/data?...')`, which refuses "/h5grove".
const absoluteUrl = new URL(url, document.baseURI).href.replace(/\/$/, '');
const mount = document.getElementById('viewer');
if (!mount) {
  throw new Error('viewer: the page has no element #viewer to draw into');
}

createRoot(mount).render(
  <StrictMode>
    <H5GroveProvider url={absoluteUrl} filepath={filepath} fetcher={fetcher}>
      <App initialPath={initialPath} />
    </H5GroveProvider>
  </StrictMode>,
);
