// The umbrella module: `import RedML` is all an app needs.
@_exported import RedMLCore
@_exported import RedMLPersistence
@_exported import RedMLSQLite
@_exported import RedMLRegistry
@_exported import RedMLQueue
