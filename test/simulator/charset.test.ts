import { describe, expect, it } from 'vitest';
import { encodeText, isResponseCharset, xmlDeclaration } from '../../src/simulator/charset.js';

const cp1251 = new TextDecoder('windows-1251');

describe('encodeText', () => {
  it('encodes every windows-1251 character to the byte that TextDecoder reads back', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const text = cp1251.decode(all);
    expect([...encodeText(text, 'windows-1251')]).toEqual([...all]);
  });

  it('writes Russian text one byte a letter', () => {
    expect([...encodeText('Привет, Ёж №1 «ок»', 'windows-1251')]).toEqual([
      0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2, 0x2c, 0x20, 0xa8, 0xe6, 0x20, 0xb9, 0x31, 0x20, 0xab, 0xee, 0xea, 0xbb,
    ]);
  });

  it('writes characters windows-1251 lacks as XML character references, keeping the text', () => {
    const bytes = encodeText('Ж ü € 😀 ok', 'windows-1251');
    expect(cp1251.decode(bytes)).toBe('Ж &#xFC; € &#x1F600; ok');
  });

  it('leaves UTF-8 as UTF-8', () => {
    expect(encodeText('Ж 😀', 'utf-8')).toEqual(Buffer.from('Ж 😀', 'utf8'));
  });
});

describe('xmlDeclaration', () => {
  it('declares windows-1251 and nothing for UTF-8 (the answers as they always were)', () => {
    expect(xmlDeclaration('windows-1251')).toBe('<?xml version="1.0" encoding="windows-1251"?>\n');
    expect(xmlDeclaration('utf-8')).toBe('');
  });

  it('knows its charsets', () => {
    expect(isResponseCharset('windows-1251')).toBe(true);
    expect(isResponseCharset('utf-8')).toBe(true);
    expect(isResponseCharset('koi8-r')).toBe(false);
  });
});
