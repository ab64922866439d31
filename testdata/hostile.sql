-- Hostile fixture: a database as a careless or hostile DBA builds it.
-- Every class of issue 11 has a part of its own; the round-trip tests
-- restore it through lms-backup and the stock client and compare strictly.
-- Loaded with the stock mariadb client into an empty database.
SET NAMES utf8mb4;
SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO';

-- 1. Names that would end a comment line or a quote: newlines, */, --, #,
-- quotes, backslashes, a semicolon. Restored, none may run as SQL (the
-- test checks that no database named lms_injected appears).
CREATE TABLE `x
CREATE DATABASE lms_injected;
#` (`c */ -- # \ ' " ; 
 x` INT PRIMARY KEY, `v` VARCHAR(20));
INSERT INTO `x
CREATE DATABASE lms_injected;
#` VALUES (1, 'one'), (2, 'two');
CREATE TABLE `*/ DROP DATABASE mysql; /*` (`id` INT PRIMARY KEY);
INSERT INTO `*/ DROP DATABASE mysql; /*` VALUES (7);
CREATE VIEW `v
CREATE DATABASE lms_injected;
--` AS SELECT `v` FROM `x
CREATE DATABASE lms_injected;
#`;
CREATE PROCEDURE `p
CREATE DATABASE lms_injected;
#`() SELECT 1;
CREATE TRIGGER `t
CREATE DATABASE lms_injected;
#` BEFORE INSERT ON `*/ DROP DATABASE mysql; /*` FOR EACH ROW SET NEW.`id` = NEW.`id` + 1000;
CREATE EVENT `e
CREATE DATABASE lms_injected;
#` ON SCHEDULE EVERY 1 DAY STARTS '2031-01-01 00:00:00' DISABLE DO SELECT 1;

-- 2. Keys in gbk with bytes that have no Unicode mapping (user-defined
-- area AAA1-AFFE), more rows than one page of the dump's cursor, and a
-- key column with collation-equal but byte-different values.
CREATE TABLE `gbk_keys` (`k` VARCHAR(20) CHARACTER SET gbk NOT NULL PRIMARY KEY, `n` INT) ENGINE=InnoDB;
INSERT INTO `gbk_keys` SELECT CONCAT(CONVERT(UNHEX(CONCAT('AA', HEX(161 + `seq` MOD 90))) USING gbk), LPAD(`seq`, 6, '0')), `seq` FROM `seq_1_to_25000`;
CREATE TABLE `ci_keys` (`k` VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL, `b` INT NOT NULL, PRIMARY KEY (`k`, `b`)) ENGINE=InnoDB;
INSERT INTO `ci_keys` SELECT ELT(1 + `seq` MOD 5, 'a', 'A', 'a ', 'Ã¤', 'Ã„'), `seq` FROM `seq_1_to_30000`;

-- 3. Stored objects under other sql_modes.
SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES';
CREATE FUNCTION `win_path`() RETURNS VARCHAR(40) DETERMINISTIC RETURN 'C:\data\';
CREATE TABLE `paths` (`id` INT PRIMARY KEY, `p` VARCHAR(40));
CREATE TRIGGER `paths_bi` BEFORE INSERT ON `paths` FOR EACH ROW SET NEW.`p` = CONCAT('C:\data\', NEW.`p`, '\');
SET SESSION sql_mode = 'ANSI_QUOTES';
CREATE TRIGGER "paths_bu" BEFORE UPDATE ON "paths" FOR EACH ROW SET NEW."p" = CONCAT('"quoted\"', NEW."p");
CREATE VIEW "ansi view" AS SELECT "id" AS "a""b" FROM "paths";
SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO';
INSERT INTO `paths` VALUES (1, 'x');

-- 4. A body holding every delimiter the dump might try.
DELIMITER ^^^
CREATE PROCEDURE `delims`(OUT `s` TEXT)
BEGIN
  -- The candidates in strings, and unquoted in a variable's name, where
  -- a client would take them for the delimiter.
  DECLARE a$$$$$b, c$$d INT DEFAULT 5;
  SET s = CONCAT(';;', '//', '$$', '@@@', '$$$$$', '$$1', '//1', ';;;;', '%%', '!!', '||', '~~', a$$$$$b, c$$d);
END^^^
DELIMITER ;

-- 5. View order: `b_v` reads table `paths` under the alias `a_v`;
-- `a_v` reads `b_v`. Text matching took the alias for a dependency,
-- saw a cycle and created `a_v` first.
CREATE VIEW `b_v` AS SELECT `a_v`.`id` FROM `paths` AS `a_v`;
CREATE VIEW `a_v` AS SELECT `id` FROM `b_v`;

-- 6. History: implicit and explicit periods; updates and deletes.
CREATE TABLE `ledger` (`id` INT PRIMARY KEY, `amount` DECIMAL(12,2)) WITH SYSTEM VERSIONING;
SET @@timestamp = UNIX_TIMESTAMP('2024-01-01 10:00:00');
INSERT INTO `ledger` VALUES (1, 100.00), (2, 50.00), (3, 7.00);
SET @@timestamp = UNIX_TIMESTAMP('2024-02-01 10:00:00');
UPDATE `ledger` SET `amount` = 80.00 WHERE `id` = 1;
SET @@timestamp = UNIX_TIMESTAMP('2024-03-01 10:00:00');
DELETE FROM `ledger` WHERE `id` = 2;
UPDATE `ledger` SET `amount` = 60.00 WHERE `id` = 1;
SET @@timestamp = DEFAULT;
CREATE TABLE `audit` (`id` INT NOT NULL, `note` VARCHAR(20),
  `valid_from` TIMESTAMP(6) GENERATED ALWAYS AS ROW START, `valid_to` TIMESTAMP(6) GENERATED ALWAYS AS ROW END,
  PERIOD FOR SYSTEM_TIME (`valid_from`, `valid_to`), PRIMARY KEY (`id`)) WITH SYSTEM VERSIONING;
INSERT INTO `audit` (`id`, `note`) VALUES (1, 'first');
UPDATE `audit` SET `note` = 'second' WHERE `id` = 1;
CREATE TABLE `nokey_hist` (`a` INT, `b` VARCHAR(5)) WITH SYSTEM VERSIONING;
INSERT INTO `nokey_hist` VALUES (1, 'x'), (1, 'x');
UPDATE `nokey_hist` SET `b` = 'y' LIMIT 1;

-- 7. MERGE over two MyISAM tables.
CREATE TABLE `m_2023` (`id` INT NOT NULL, `v` VARCHAR(10), PRIMARY KEY (`id`)) ENGINE=MyISAM;
CREATE TABLE `m_2024` (`id` INT NOT NULL, `v` VARCHAR(10), PRIMARY KEY (`id`)) ENGINE=MyISAM;
INSERT INTO `m_2023` VALUES (1, 'a'), (2, 'b');
INSERT INTO `m_2024` VALUES (3, 'c');
CREATE TABLE `m_all` (`id` INT NOT NULL, `v` VARCHAR(10), PRIMARY KEY (`id`)) ENGINE=MERGE UNION=(`m_2023`, `m_2024`) INSERT_METHOD=LAST;

-- 8. An Oracle-mode package and its body.
SET SESSION sql_mode = 'ORACLE';
DELIMITER $$
CREATE PACKAGE "fees" AS
  FUNCTION late_fee(amount NUMBER) RETURN NUMBER;
END$$
CREATE PACKAGE BODY "fees" AS
  FUNCTION late_fee(amount NUMBER) RETURN NUMBER AS
  BEGIN
    RETURN amount * 0.05;
  END;
END$$
DELIMITER ;
SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO';

-- 9. Objects made by a latin1 client: their text is latin1 bytes.
SET NAMES latin1;
CREATE FUNCTION `latin_word`() RETURNS VARCHAR(20) DETERMINISTIC RETURN CONCAT('café ', CHARSET('x'));
CREATE VIEW `latin_view` AS SELECT 'naïve' AS `w`, CHARSET('x') AS `cs`;
CREATE TRIGGER `latin_trg` BEFORE INSERT ON `m_2024` FOR EACH ROW SET NEW.`v` = IF(NEW.`v` IS NULL, 'défaut', NEW.`v`);
SET NAMES utf8mb4;

-- 10. A sequence that has cycled.
CREATE SEQUENCE `ticket` START WITH 1 MINVALUE 1 MAXVALUE 3 INCREMENT BY 1 CACHE 0 CYCLE;
SELECT NEXTVAL(`ticket`), NEXTVAL(`ticket`), NEXTVAL(`ticket`), NEXTVAL(`ticket`), NEXTVAL(`ticket`) INTO @a, @b, @c, @d, @e;

-- 11. A view the server prints with its own database around JSON_TABLE.
CREATE TABLE `docs` (`id` INT PRIMARY KEY, `j` JSON);
INSERT INTO `docs` VALUES (1, '[{"a": 1}, {"a": 2}]'), (2, '[{"a": 3}]');
CREATE VIEW `doc_items` AS SELECT `d`.`id`, `x`.`a` FROM `docs` `d`, JSON_TABLE(`d`.`j`, '$[*]' COLUMNS (`a` INT PATH '$.a')) `x`;

-- 12. ENUM error value (index 0) next to the member ''.
CREATE TABLE `enums` (`id` INT PRIMARY KEY, `e` ENUM('', 'a', 'b'), `f` ENUM('x', 'y'));
SET SESSION sql_mode = '';
INSERT INTO `enums` VALUES (1, 'bogus', 'bogus'), (2, '', 'x'), (3, 'a', 'y'), (4, NULL, NULL);
SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO';

-- 13. Plain keys around SPATIAL and FULLTEXT keys: the order SHOW CREATE
-- TABLE prints must survive a restore that adds keys after the rows.
CREATE TABLE `places` (`id` INT PRIMARY KEY, `a` INT, `b` INT, `t` TEXT, `g` POINT NOT NULL,
  KEY `ka` (`a`), SPATIAL KEY `sp` (`g`), KEY `kb` (`b`), FULLTEXT KEY `ft` (`t`), KEY `kab` (`a`, `b`)) ENGINE=InnoDB;
INSERT INTO `places` VALUES (1, 1, 2, 'amman', POINT(35.9, 31.9)), (2, 2, 1, 'irbid', POINT(35.8, 32.5));
