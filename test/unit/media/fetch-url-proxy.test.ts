import { expect } from 'chai';
import { bypassesProxy, proxyFor } from '../../../src/media/fetch/proxy.js';
import { fetchTarget, redactUrl, redactUrlsIn } from '../../../src/media/fetch/url.js';

describe('media/fetch/url: credentials out of URLs', () => {
  it('redacts the password, keeps the user, leaves plain URLs alone', () => {
    expect(redactUrl('http://ann:pw@host/tree/')).to.equal('http://ann:***@host/tree/');
    expect(redactUrl('https://host/tree/')).to.equal('https://host/tree/');
    expect(redactUrl('not a url ftp://u:p@x/')).to.equal('not a url ftp://u:***@x/');
    expect(redactUrlsIn('failed: http://a:b@h/x and https://c:d@k/')).to.equal(
      'failed: http://a:***@h/x and https://c:***@k/',
    );
  });

  it('splits credentials into Basic auth for the URL origin (percent-decoded)', () => {
    const t = fetchTarget('http://ann:s%2F%3A%40@host:8080/a/b');
    expect(t.url).to.equal('http://host:8080/a/b');
    expect(t.auth).to.deep.equal({
      origin: 'http://host:8080',
      header: `Basic ${Buffer.from('ann:s/:@').toString('base64')}`,
    });
    expect(fetchTarget('http://host/a').auth).to.equal(undefined);
  });
});

describe('media/fetch/proxy: http_proxy, https_proxy, no_proxy as curl and virt-install read them', () => {
  const P = 'http://proxy:3128';
  it('picks the variable by scheme, lower case first, all_proxy last', () => {
    expect(proxyFor('http://h/x', { http_proxy: P })?.href).to.equal(`${P}/`);
    expect(proxyFor('https://h/x', { http_proxy: P })).to.equal(null);
    expect(proxyFor('https://h/x', { HTTPS_PROXY: 'proxy:8080' })?.href).to.equal('http://proxy:8080/');
    expect(
      proxyFor('http://h/x', { http_proxy: 'http://low:1', HTTP_PROXY: 'http://up:1' })?.hostname,
    ).to.equal('low');
    expect(proxyFor('http://h/x', { all_proxy: P })?.hostname).to.equal('proxy');
    expect(proxyFor('http://h/x', {})).to.equal(null);
  });

  it('no_proxy: *, names and subdomains, leading dots, IPs, CIDR blocks, ports', () => {
    const u = (s: string): URL => new URL(s);
    expect(bypassesProxy(u('http://a.example.org/'), '*')).to.equal(true);
    expect(bypassesProxy(u('http://a.example.org/'), 'example.org')).to.equal(true);
    expect(bypassesProxy(u('http://a.example.org/'), '.example.org')).to.equal(true);
    expect(bypassesProxy(u('http://a.example.org/'), '*.example.org')).to.equal(true);
    expect(bypassesProxy(u('http://badexample.org/'), 'example.org')).to.equal(false);
    expect(bypassesProxy(u('http://10.1.2.3/'), '10.0.0.0/8')).to.equal(true);
    expect(bypassesProxy(u('http://11.1.2.3/'), '10.0.0.0/8')).to.equal(false);
    expect(bypassesProxy(u('http://[::1]:80/'), '::1')).to.equal(true);
    expect(bypassesProxy(u('http://mirror:8080/'), 'mirror:8080')).to.equal(true);
    expect(bypassesProxy(u('http://mirror/'), 'mirror:8080')).to.equal(false);
    expect(proxyFor('http://mirror.lan/x', { http_proxy: P, NO_PROXY: 'lan' })).to.equal(null);
  });

  it('refuses a proxy it cannot use, without printing its password', () => {
    expect(() => proxyFor('http://h/', { http_proxy: 'socks5://u:secret@p:1080' }))
      .to.throw()
      .that.satisfies((e: Error & { code: string; exitCode: number }) => {
        expect(e.code).to.equal('MEDIA_PROXY_UNSUPPORTED');
        expect(e.exitCode).to.equal(2);
        expect(e.message).not.to.include('secret');
        return true;
      });
  });
});
