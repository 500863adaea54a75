import { migrationSuite, storeSuite } from './store-suite.js';

storeSuite('sqlite');
migrationSuite('sqlite');
