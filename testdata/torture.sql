-- Torture fixture for the round-trip test: every column type and edge value
-- the dump must carry back byte for byte, every object kind, odd identifiers.
-- Loaded with the stock mariadb client into an empty database.
SET NAMES utf8mb4;
SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO';
SET SESSION time_zone = '+03:00';

CREATE SEQUENCE `seq_invoice` START WITH 100 INCREMENT BY 5;
SELECT NEXTVAL(`seq_invoice`), NEXTVAL(`seq_invoice`) INTO @a, @b;

CREATE TABLE `types` (
  `id` INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  `ti` TINYINT, `tu` TINYINT UNSIGNED, `si` SMALLINT, `mi` MEDIUMINT, `zf` INT(6) UNSIGNED ZEROFILL,
  `bi` BIGINT, `bu` BIGINT UNSIGNED,
  `dec65` DECIMAL(65,30), `dec3` DECIMAL(14,3),
  `f` FLOAT, `fmd` FLOAT(7,3), `d` DOUBLE,
  `bit1` BIT(1), `bit64` BIT(64),
  `bin8` BINARY(8), `vbin` VARBINARY(300), `tb` TINYBLOB, `bl` BLOB, `mb` MEDIUMBLOB,
  `c10` CHAR(10), `vc` VARCHAR(255), `tt` TINYTEXT, `tx` TEXT, `mt` MEDIUMTEXT,
  `dt` DATE, `dtt` DATETIME(6), `ts` TIMESTAMP(3) NULL DEFAULT NULL, `tm` TIME(6), `yr` YEAR,
  `en` ENUM('a','b','ج','x y') , `st` SET('r','w','x','ق'),
  `js` JSON, `g` GEOMETRY, `pt` POINT,
  `l1` VARCHAR(50) CHARACTER SET latin1, `cp` CHAR(20) CHARACTER SET cp1251, `sj` VARCHAR(20) CHARACTER SET sjis,
  `ip6` INET6, `uid` UUID,
  `gen_v` INT AS (`ti` + 1) VIRTUAL, `gen_s` VARCHAR(300) AS (CONCAT(`vc`, '!')) STORED,
  `inv` INT INVISIBLE DEFAULT 7,
  `inv_seq` INT DEFAULT NEXTVAL(`seq_invoice`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='every type; الأنواع';

-- All NULL.
INSERT INTO `types` (`id`) VALUES (1);
UPDATE `types` SET `inv` = NULL, `inv_seq` = NULL WHERE `id` = 1;
-- Empty strings versus NULL versus the word NULL.
INSERT INTO `types` (`id`, `vc`, `tx`, `c10`, `vbin`, `bl`, `l1`, `en`, `st`, `js`)
VALUES (2, '', 'NULL', 'NULL', '', '', '', '', '', '""');
-- Limits.
INSERT INTO `types` (`id`, `ti`, `tu`, `si`, `mi`, `zf`, `bi`, `bu`, `dec65`, `dec3`, `f`, `fmd`, `d`, `bit1`, `bit64`, `yr`, `tm`, `dt`, `dtt`, `ts`)
VALUES (3, -128, 255, -32768, -8388608, 42, -9223372036854775808, 18446744073709551615,
  '-99999999999999999999999999999999999.999999999999999999999999999999', -99999999999.999,
  3.4028235e38, -9999.999, 1.7976931348623157e308, b'1', b'1111111111111111111111111111111111111111111111111111111111111111',
  2155, '838:59:59.000000', '9999-12-31', '9999-12-31 23:59:59.999999', '2038-01-19 06:14:07.999'),
 (4, 127, 0, 32767, 8388607, 0, 9223372036854775807, 0,
  '0.000000000000000000000000000001', 0.001,
  1.17549435e-38, 0.001, 5e-324, b'0', b'0',
  1901, '-838:59:59.000000', '1000-01-01', '1000-01-01 00:00:00.000001', '1970-01-01 03:00:01.000'),
 (5, 0, 1, 0, 0, 7, 0, 1, '0', 0, 1.4e-45, 0, -0.0e0, b'0', b'101', 0, '00:00:00.000001', '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00');
-- Floats that 6-digit text would change.
INSERT INTO `types` (`id`, `f`, `d`) VALUES
 (6, 3.1415927, 0.1e0 + 0.2e0), (7, 0.1, 0.1), (8, 16777217, 1e23), (9, -1.0000001, 2.2250738585072014e-308),
 (10, 123456.79, 9007199254740993), (11, 1e-40, -1.5e-323);
-- Dates with zero parts, odd times, TIMESTAMP across the session offset.
INSERT INTO `types` (`id`, `dt`, `dtt`, `ts`, `tm`, `yr`) VALUES
 (12, '2024-00-00', '2024-02-00 10:00:00', '2024-03-31 00:30:00.125', '-00:00:01', 2000),
 (13, '2024-02-29', '2024-02-29 23:59:59.5', '2024-01-01 01:00:00', '100:00:00', 1999);
-- Strings: control characters, quotes, backslashes, 4-byte UTF-8, Arabic.
INSERT INTO `types` (`id`, `vc`, `tx`, `mt`, `tt`, `c10`, `en`, `st`, `js`) VALUES
 (14, CONCAT('nul:', CHAR(0), ' nl:', CHAR(10), ' cr:', CHAR(13), ' tab:', CHAR(9), ' ctrlz:', CHAR(26), ' bs:\\ q:'' dq:" bt:` semi:; dsemi:;; dollar:$$'),
      'line1\nline2\r\nend\\', '😀🏦 عبدالله بن محمد — ﻻ إلا آلاء', CONCAT(CHAR(1), CHAR(2), CHAR(31), CHAR(127)), 'pad  ', 'ج', 'r,w,ق',
      '{"name": "عبدالله", "amounts": [1.500, 2.25e3], "note": null, "esc": "a\\"b"}'),
 (15, '-- not a comment', '/* not a comment */ # nor this', 'DELIMITER ;;', 'x', '  lead', 'x y', 'x', '[]'),
 (16, 'trailing spaces   ', 'tab	inside', REPEAT('ق', 3000), '', '', 'a', 'r,w,x,ق', '{"deep": {"a": [[[]]]}}');
-- Binary: every byte value, NUL padding, spatial values with an SRID.
INSERT INTO `types` (`id`, `bin8`, `vbin`, `tb`, `bl`, `mb`, `g`, `pt`, `bit64`) VALUES
 (17, 0x00FF000102, UNHEX(CONCAT(
   '000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F',
   '202122232425262728292A2B2C2D2E2F303132333435363738393A3B3C3D3E3F',
   '404142434445464748494A4B4C4D4E4F505152535455565758595A5B5C5D5E5F',
   '606162636465666768696A6B6C6D6E6F707172737475767778797A7B7C7D7E7F',
   '808182838485868788898A8B8C8D8E8F909192939495969798999A9B9C9D9E9F',
   'A0A1A2A3A4A5A6A7A8A9AAABACADAEAFB0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF',
   'C0C1C2C3C4C5C6C7C8C9CACBCCCDCECFD0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF',
   'E0E1E2E3E4E5E6E7E8E9EAEBECEDEEEFF0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF')),
   0x27225C0A0D1A00, REPEAT(0x00, 1000), REPEAT(0xFF5C27, 30000),
   ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0),(2 2,3 2,3 3,2 2))', 4326),
   ST_GeomFromText('POINT(35.9106 31.9539)'), 0x8000000000000001);
-- Text in other charsets: exact bytes, including ones a conversion would lose.
INSERT INTO `types` (`id`, `l1`, `cp`, `sj`) VALUES
 (18, UNHEX('636166E920E8FF80819D8F9000'), UNHEX('C0E1E2983F'), UNHEX('82A082A2')),
 (19, UNHEX('5C27'), UNHEX('DFFF'), UNHEX('5C'));
-- INET6, UUID.
INSERT INTO `types` (`id`, `ip6`, `uid`) VALUES (20, '::ffff:192.0.2.1', '123e4567-e89b-12d3-a456-426655440000'), (21, '2001:db8::1', '00000000-0000-0000-0000-000000000000');
-- id 0 survives only with NO_AUTO_VALUE_ON_ZERO.
INSERT INTO `types` (`id`, `vc`) VALUES (0, 'zero id');
ALTER TABLE `types` AUTO_INCREMENT = 1000;

-- Odd identifiers: reserved words, spaces, backticks, quotes, Arabic, case.
CREATE TABLE `select` (`from` INT PRIMARY KEY, `where` VARCHAR(10), `order by` TEXT) ENGINE=InnoDB;
INSERT INTO `select` VALUES (1, 'a', 'b'), (2, NULL, '');
CREATE TABLE `my ``odd`` table; "x"` (`col ``1``` INT, `col'2` VARCHAR(10), `ضريبة` DECIMAL(10,3), KEY `idx ``a``` (`col ``1```)) ENGINE=InnoDB;
INSERT INTO `my ``odd`` table; "x"` VALUES (1, 'q''uote', 1.5), (1, 'dup', 1.5), (NULL, NULL, NULL);
CREATE TABLE `قروض` (`رقم` INT AUTO_INCREMENT PRIMARY KEY, `اسم` VARCHAR(100)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO `قروض` (`اسم`) VALUES ('أحمد'), ('فاطمة');

-- Foreign keys, the child sorting before its parent.
CREATE TABLE `z_users` (`id` INT UNSIGNED AUTO_INCREMENT PRIMARY KEY, `name` VARCHAR(120) NOT NULL) ENGINE=InnoDB;
CREATE TABLE `a_loans` (`id` INT UNSIGNED AUTO_INCREMENT PRIMARY KEY, `user_id` INT UNSIGNED NOT NULL,
  `principal` DECIMAL(14,3) NOT NULL, `status` ENUM('pending','active','paid','defaulted') NOT NULL DEFAULT 'pending',
  CONSTRAINT `fk_loans_user` FOREIGN KEY (`user_id`) REFERENCES `z_users` (`id`) ON DELETE CASCADE,
  CONSTRAINT `chk_principal` CHECK (`principal` >= 0)) ENGINE=InnoDB;
INSERT INTO `z_users` (`name`) VALUES ('Layla'), ('يوسف');
INSERT INTO `a_loans` (`user_id`, `principal`, `status`) VALUES (1, 1000.500, 'active'), (2, 250.125, 'paid');

-- Keys a restore adds after the rows: plain keys among unique ones, a
-- foreign key onto a plain (non-unique) key of a table that sorts first,
-- an AUTO_INCREMENT column that is not the primary key.
CREATE TABLE `b_branches` (`id` INT PRIMARY KEY, `code` VARCHAR(10) NOT NULL, `region` INT,
  KEY `idx_code` (`code`), UNIQUE KEY `u_region_code` (`region`, `code`), KEY `idx_region` (`region` DESC)) ENGINE=InnoDB;
CREATE TABLE `c_staff` (`n` INT NOT NULL AUTO_INCREMENT, `branch_code` VARCHAR(10), `name` VARCHAR(50),
  PRIMARY KEY (`name`), KEY `n` (`n`), KEY `idx_branch` (`branch_code`) COMMENT 'lookup, by branch',
  CONSTRAINT `fk_staff_branch` FOREIGN KEY (`branch_code`) REFERENCES `b_branches` (`code`) ON UPDATE CASCADE) ENGINE=InnoDB;
INSERT INTO `b_branches` VALUES (1, 'AMM', 1), (2, 'IRB', 1), (3, 'AQJ', 2);
INSERT INTO `c_staff` (`branch_code`, `name`) VALUES ('AMM', 'Rania'), ('IRB', 'Omar');

-- No primary key, duplicate rows; MyISAM and Aria.
CREATE TABLE `nokey` (`a` INT, `b` VARCHAR(10)) ENGINE=InnoDB;
INSERT INTO `nokey` VALUES (1, 'x'), (1, 'x'), (NULL, NULL);
CREATE TABLE `legacy_myisam` (`id` INT PRIMARY KEY, `note` TEXT, FULLTEXT KEY `ft_note` (`note`)) ENGINE=MyISAM;
INSERT INTO `legacy_myisam` VALUES (1, 'old system'), (2, 'نص عربي');
CREATE TABLE `aria_log` (`id` INT PRIMARY KEY, `msg` VARCHAR(50)) ENGINE=Aria;
INSERT INTO `aria_log` VALUES (1, 'aria');

-- Many rows: several statements and several frames.
CREATE TABLE `installments` (`id` BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, `loan_id` INT UNSIGNED, `seq` SMALLINT,
  `due_date` DATE, `amount` DECIMAL(14,3), `paid_at` DATETIME NULL, `memo` VARCHAR(100)) ENGINE=InnoDB;
INSERT INTO `installments` (`loan_id`, `seq`, `due_date`, `amount`, `paid_at`, `memo`)
  SELECT `seq` DIV 12, `seq` MOD 12, '2020-01-01' + INTERVAL `seq` DAY, `seq` * 1.125,
         IF(`seq` MOD 3 = 0, NULL, '2020-01-05 10:00:00' + INTERVAL `seq` HOUR), CONCAT('قسط رقم ', `seq`, ' — payment ', SHA1(`seq`))
  FROM `seq_1_to_60000`;
ALTER TABLE `installments` ADD KEY `idx_loan` (`loan_id`, `seq`), ADD KEY `idx_due` (`due_date`);

-- A row of tens of MB (needs max_allowed_packet of 64M or more to restore).
CREATE TABLE `receipts` (`id` INT PRIMARY KEY, `scan` LONGBLOB, `ocr` LONGTEXT) ENGINE=InnoDB;
INSERT INTO `receipts` VALUES (1, REPEAT(UNHEX('00FF7F80275C0A'), 3000000), REPEAT('ع', 100));
INSERT INTO `receipts` VALUES (2, 0x01, NULL);

-- Stored programs whose bodies hold the usual delimiters.
DELIMITER ;;
CREATE FUNCTION `fmt_amount`(`x` DECIMAL(14,3)) RETURNS VARCHAR(40) CHARSET utf8mb4 DETERMINISTIC
BEGIN
  DECLARE s VARCHAR(40) DEFAULT ';;';
  SET s = CONCAT(FORMAT(x, 3), ' د.أ');
  RETURN s;
END;;
CREATE PROCEDURE `close loan`(IN `p_id` INT, OUT `p_done` INT)
  COMMENT 'closes a loan; uses $$ and ;; in strings'
BEGIN
  UPDATE `a_loans` SET `status` = 'paid' WHERE `id` = p_id;
  SET p_done = ROW_COUNT();
  SELECT '$$', ';;', '//' INTO @x, @y, @z;
END;;
CREATE TRIGGER `trg_loans_bi` BEFORE INSERT ON `a_loans` FOR EACH ROW
BEGIN
  IF NEW.`principal` < 0 THEN SET NEW.`principal` = 0; END IF;
END;;
CREATE TRIGGER `trg_loans_bi2` BEFORE INSERT ON `a_loans` FOR EACH ROW FOLLOWS `trg_loans_bi`
  SET NEW.`status` = IF(NEW.`status` = '', 'pending', NEW.`status`);;
DELIMITER ;
SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,ANSI_QUOTES';
CREATE TRIGGER `trg users "au"` AFTER UPDATE ON `z_users` FOR EACH ROW SET @last_user = NEW.`name`;
SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO';
CREATE EVENT `ev_nightly` ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 02:00:00' ON COMPLETION PRESERVE DISABLE
  COMMENT 'archive' DO DELETE FROM `nokey` WHERE `a` IS NULL;

-- Views on views, the dependent one sorting first, and one calling a function.
CREATE VIEW `z_active_loans` AS SELECT `id`, `user_id`, `principal` FROM `a_loans` WHERE `status` = 'active';
CREATE VIEW `a_active_total` AS SELECT COUNT(*) AS `n`, SUM(`principal`) AS `total` FROM `z_active_loans`;
CREATE SQL SECURITY INVOKER VIEW `m_formatted` AS SELECT `id`, `fmt_amount`(`principal`) AS `amount` FROM `z_active_loans`;
