package dump

import (
	"lms-backup/dumpfile"
	"lms-backup/internal/sqlident"
)

// headerSQL prepares a restoring session: UTF-8, UTC, a permissive
// sql_mode that keeps zero dates and explicit zeros in AUTO_INCREMENT
// columns, no foreign key or unique checks while loading, and (MariaDB
// 10.11 and later) the row versions of system-versioned tables inserted
// with their own ROW START and ROW END. Every value is
// saved first and put back by trailerSQL.
const headerSQL = `SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT, @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS, @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION;
SET NAMES utf8mb4;
SET @OLD_TIME_ZONE=@@TIME_ZONE;
SET TIME_ZONE='+00:00';
SET @OLD_SQL_MODE=@@SQL_MODE;
SET SQL_MODE='NO_AUTO_VALUE_ON_ZERO';
SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS;
SET FOREIGN_KEY_CHECKS=0;
SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS;
SET UNIQUE_CHECKS=0;
SET @OLD_SQL_NOTES=@@SQL_NOTES;
SET SQL_NOTES=0;
/*M!101100 SET @OLD_SYSTEM_VERSIONING_INSERT_HISTORY=@@SYSTEM_VERSIONING_INSERT_HISTORY, @@SYSTEM_VERSIONING_INSERT_HISTORY=1 */;
`

const trailerSQL = `SET TIME_ZONE=@OLD_TIME_ZONE;
SET SQL_MODE=@OLD_SQL_MODE;
SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS;
SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS;
SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT;
SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS;
SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION;
SET SQL_NOTES=@OLD_SQL_NOTES;
/*M!101100 SET @@SYSTEM_VERSIONING_INSERT_HISTORY=@OLD_SYSTEM_VERSIONING_INSERT_HISTORY */;
`

func appendHeader(b []byte, h dumpfile.Header) []byte {
	b = dumpfile.AppendHeaderLine(b, h)
	b = append(b, "-- Database: "...)
	b = sqlident.AppendComment(b, h.Database)
	b = append(b, "\n-- Server: "...)
	b = appendCommentText(b, h.ServerVersion)
	b = append(b, "\n-- Restore with: lms-backup restore --database NAME FILE, or: zstd -dc FILE | mariadb NAME\n"...)
	return append(b, headerSQL...)
}

// appendCommentText appends free text from the server (its version string)
// to a comment line with control bytes replaced by spaces, so that it
// cannot end the line.
func appendCommentText(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			b = append(b, ' ')
		} else {
			b = append(b, c)
		}
	}
	return b
}
