// The TableStorageSQLite module. Its public API is being built; see the project's issues.
// This file exists so that the target compiles; it declares nothing public.
import GRDB
