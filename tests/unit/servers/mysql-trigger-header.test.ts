import { describe, expect, test } from 'vitest';
import { unqualifyTrigger } from '../../../electron/engine/servers/mysql/trigger-header.ts';

const H = '/*!50003 CREATE*/ /*!50017 DEFINER=`app`@`%`*/ /*!50003 TRIGGER ';

describe('unqualifyTrigger', () => {
  test('takes the source name out of the trigger name and the table after ON, bare or backquoted, any keyword case', () => {
    expect(unqualifyTrigger(`${H}shop.tr BEFORE INSERT ON shop.item FOR EACH ROW SET NEW.a = 1 \n`, 'shop')).toBe(`${H}tr BEFORE INSERT ON item FOR EACH ROW SET NEW.a = 1 \n`);
    expect(unqualifyTrigger(`${H}\`shop\` . \`t r\` after update on \`shop\`.\`it\`\`em\` FOR EACH ROW SET @x = shop.f()\n`, 'shop')).toBe(`${H}\`t r\` after update on \`it\`\`em\` FOR EACH ROW SET @x = shop.f()\n`);
    expect(unqualifyTrigger(`${H}\`we\`\`ird.db\`.tr AFTER DELETE FOLLOWS other ON \`we\`\`ird.db\`.item FOR EACH ROW DELETE FROM x\n`, 'we`ird.db')).toBe(`${H}tr AFTER DELETE FOLLOWS other ON item FOR EACH ROW DELETE FROM x\n`);
    // Only the trigger's name qualified; no DEFINER comment.
    expect(unqualifyTrigger('/*!50003 CREATE*/ /*!50003 TRIGGER shop.tr BEFORE INSERT ON item FOR EACH ROW SET NEW.a = 1\n', 'shop')).toBe('/*!50003 CREATE*/ /*!50003 TRIGGER tr BEFORE INSERT ON item FOR EACH ROW SET NEW.a = 1\n');
  });

  test('leaves alone what is not the source name: unqualified, another database, another case, a line that is no trigger header', () => {
    expect(unqualifyTrigger(`${H}tr BEFORE INSERT ON item FOR EACH ROW SET NEW.a = 1\n`, 'shop')).toBeNull();
    expect(unqualifyTrigger(`${H}other.tr BEFORE INSERT ON other.item FOR EACH ROW SET NEW.a = 1\n`, 'shop')).toBeNull();
    expect(unqualifyTrigger(`${H}SHOP.tr BEFORE INSERT ON SHOP.item FOR EACH ROW SET NEW.a = 1\n`, 'shop')).toBeNull();
    expect(unqualifyTrigger('/*!50003 CREATE*/ /*!50020 DEFINER=`a`@`%`*/ /*!50003 PROCEDURE shop.p() SELECT 1\n', 'shop')).toBeNull();
    expect(unqualifyTrigger('INSERT INTO shop.item VALUES (1);\n', 'shop')).toBeNull();
  });
});
