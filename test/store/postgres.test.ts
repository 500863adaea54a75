import { migrationSuite, storeSuite } from './store-suite.js';

storeSuite('postgres');
migrationSuite('postgres');
