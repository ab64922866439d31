package restore

import (
	"strings"
	"testing"
)

func TestDeferKeys(t *testing.T) {
	tests := []struct {
		name, stmt, create string
		keys, fks          []string
		ok                 bool
	}{
		{
			name: "keys and foreign keys",
			stmt: "CREATE TABLE `loans` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  `user_id` int(11) NOT NULL,\n  `code` varchar(10) DEFAULT NULL,\n" +
				"  PRIMARY KEY (`id`),\n  UNIQUE KEY `u_code` (`code`),\n  KEY `idx_user` (`user_id`),\n  KEY `idx ``odd``` (`code`(3),`user_id`) COMMENT 'x, y',\n" +
				"  CONSTRAINT `fk_user` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE,\n  CONSTRAINT `chk` CHECK (`user_id` > 0)\n" +
				") ENGINE=InnoDB AUTO_INCREMENT=7 DEFAULT CHARSET=utf8mb4",
			create: "CREATE TABLE `loans` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  `user_id` int(11) NOT NULL,\n  `code` varchar(10) DEFAULT NULL,\n" +
				"  PRIMARY KEY (`id`),\n  UNIQUE KEY `u_code` (`code`),\n  CONSTRAINT `chk` CHECK (`user_id` > 0)\n) ENGINE=InnoDB AUTO_INCREMENT=7 DEFAULT CHARSET=utf8mb4",
			keys: []string{"ADD KEY `idx_user` (`user_id`)", "ADD KEY `idx ``odd``` (`code`(3),`user_id`) COMMENT 'x, y'"},
			fks:  []string{"ADD CONSTRAINT `fk_user` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE"},
			ok:   true,
		},
		{
			name:   "a key that carries the auto-increment column stays",
			stmt:   "CREATE TABLE `t` (\n  `a` int(11) NOT NULL,\n  `n` int(11) NOT NULL AUTO_INCREMENT,\n  PRIMARY KEY (`a`),\n  KEY `n` (`n`),\n  KEY `b` (`a`,`n`)\n) ENGINE=InnoDB",
			create: "CREATE TABLE `t` (\n  `a` int(11) NOT NULL,\n  `n` int(11) NOT NULL AUTO_INCREMENT,\n  PRIMARY KEY (`a`),\n  KEY `n` (`n`)\n) ENGINE=InnoDB",
			keys:   []string{"ADD KEY `b` (`a`,`n`)"}, ok: true,
		},
		{
			// The server orders plain and SPATIAL keys as they were made;
			// an added key would go after the SPATIAL one.
			name:   "only keys after the last SPATIAL key are deferred",
			stmt:   "CREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  `a` int(11) DEFAULT NULL,\n  `g` point NOT NULL,\n  `x` text DEFAULT NULL,\n  PRIMARY KEY (`id`),\n  KEY `ka` (`a`),\n  SPATIAL KEY `sp` (`g`),\n  KEY `kb` (`a`,`id`),\n  FULLTEXT KEY `ft` (`x`)\n) ENGINE=InnoDB",
			create: "CREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  `a` int(11) DEFAULT NULL,\n  `g` point NOT NULL,\n  `x` text DEFAULT NULL,\n  PRIMARY KEY (`id`),\n  KEY `ka` (`a`),\n  SPATIAL KEY `sp` (`g`),\n  FULLTEXT KEY `ft` (`x`)\n) ENGINE=InnoDB",
			keys:   []string{"ADD KEY `kb` (`a`,`id`)"}, ok: true,
		},
		{name: "MyISAM", stmt: "CREATE TABLE `t` (\n  `a` int(11) DEFAULT NULL,\n  KEY `a` (`a`)\n) ENGINE=MyISAM"},
		{name: "partitioned", stmt: "CREATE TABLE `t` (\n  `a` int(11) DEFAULT NULL,\n  KEY `a` (`a`)\n) ENGINE=InnoDB\n PARTITION BY HASH (`a`)\nPARTITIONS 2"},
		{name: "versioned", stmt: "CREATE TABLE `t` (\n  `a` int(11) DEFAULT NULL,\n  KEY `a` (`a`)\n) ENGINE=InnoDB WITH SYSTEM VERSIONING"},
		{name: "no keys", stmt: "CREATE TABLE `t` (\n  `a` int(11) NOT NULL,\n  PRIMARY KEY (`a`)\n) ENGINE=InnoDB"},
		{name: "a line of unknown shape", stmt: "CREATE TABLE `t` (\n  `a` text DEFAULT 'x\ny',\n  KEY `a` (`a`(3))\n) ENGINE=InnoDB"},
		{name: "only keys", stmt: "CREATE TABLE `t` (\n  KEY `a` (`a`)\n) ENGINE=InnoDB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			create, d, ok := deferKeys("t", tt.stmt)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				if create != tt.stmt {
					t.Errorf("the statement changed though nothing was deferred:\n%s", create)
				}
				return
			}
			if create != tt.create {
				t.Errorf("create:\n%s\nwant:\n%s", create, tt.create)
			}
			if strings.Join(d.keys, "|") != strings.Join(tt.keys, "|") || strings.Join(d.fks, "|") != strings.Join(tt.fks, "|") {
				t.Errorf("keys %q fks %q, want %q %q", d.keys, d.fks, tt.keys, tt.fks)
			}
		})
	}
}
