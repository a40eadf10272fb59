# scripts/install.mk — install, uninstall, test-install; included by the
# top-level Makefile (after its `all` target, so `all` stays the default).
#
#   make install   [PREFIX=/usr/local] [DESTDIR=] [LIBDIR=...] ...
#   make uninstall (same variables as the install it undoes)
#   make test-install   scripts/test_install.sh (stages into a temporary DESTDIR)
#
# Installed:
#   LIBDIR/libhakmem.so.MAJOR.MINOR.PATCH   the shared library (real file)
#   LIBDIR/libhakmem.so.MAJOR -> ...        the soname link
#   LIBDIR/libhakmem.so -> libhakmem.so.MAJOR   the link-time name
#   LIBDIR/libhakmem.a, INCLUDEDIR/hakmem.h, PKGCONFIGDIR/hakmem.pc
#   BINDIR/hakmem                           the launcher (scripts/hakmem)
#   DOCDIR/*.md                             docs/*.md
# Directories that install had to create are listed in $(BUILD)/install-dirs.txt;
# uninstall removes those (and DOCDIR) again when they are empty, nothing else.
# Without DESTDIR, as root, install and uninstall run ldconfig (LDCONFIG= to skip).

PREFIX       ?= /usr/local
DESTDIR      ?=
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
BINDIR       ?= $(PREFIX)/bin
DOCDIR       ?= $(PREFIX)/share/doc/hakmem
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
INSTALL      ?= install
LDCONFIG     ?= ldconfig

HAK_VERSION  := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)
HAK_REALNAME := libhakmem.so.$(HAK_VERSION)
HAK_DOCS     := $(wildcard docs/*.md)
HAK_STAGE    := $(BUILD)/install
HAK_DIRMANIFEST := $(BUILD)/install-dirs.txt

HAK_DIRS  = $(LIBDIR) $(PKGCONFIGDIR) $(INCLUDEDIR) $(BINDIR) $(DOCDIR)
HAK_FILES = $(LIBDIR)/$(HAK_REALNAME) $(LIBDIR)/$(SONAME) $(LIBDIR)/libhakmem.so \
            $(LIBDIR)/libhakmem.a $(INCLUDEDIR)/hakmem.h $(PKGCONFIGDIR)/hakmem.pc \
            $(BINDIR)/hakmem $(addprefix $(DOCDIR)/,$(notdir $(HAK_DOCS)))

# hakmem.pc names its directories relative to ${prefix} when they lie under PREFIX.
HAK_PC_LIBDIR = $(patsubst $(PREFIX)/%,$${exec_prefix}/%,$(LIBDIR))
HAK_PC_INCDIR = $(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))

HAK_RUN_LDCONFIG = if [ -z '$(DESTDIR)' ] && [ -n '$(LDCONFIG)' ] && [ "$$(id -u)" = 0 ] && \
                     command -v $(LDCONFIG) >/dev/null 2>&1; then $(LDCONFIG) || true; fi

.PHONY: install uninstall test-install

install: $(BUILD)/libhakmem.so $(BUILD)/libhakmem.a include/hakmem.h scripts/hakmem scripts/hakmem.pc.in
	@set -e; mkdir -p $(HAK_STAGE); \
	for d in $(HAK_DIRS); do \
	  p='$(DESTDIR)'"$$d"; \
	  while [ ! -e "$$p" ]; do echo "$$p" >> $(HAK_DIRMANIFEST); p=$$(dirname "$$p"); done; \
	done; \
	if [ -f $(HAK_DIRMANIFEST) ]; then sort -u -o $(HAK_DIRMANIFEST) $(HAK_DIRMANIFEST); fi
	$(INSTALL) -d $(addprefix '$(DESTDIR)',$(HAK_DIRS))
	$(INSTALL) -m 755 $(BUILD)/$(SONAME) '$(DESTDIR)$(LIBDIR)/$(HAK_REALNAME)'
	ln -sfn $(HAK_REALNAME) '$(DESTDIR)$(LIBDIR)/$(SONAME)'
	ln -sfn $(SONAME) '$(DESTDIR)$(LIBDIR)/libhakmem.so'
	$(INSTALL) -m 644 $(BUILD)/libhakmem.a '$(DESTDIR)$(LIBDIR)/libhakmem.a'
	$(INSTALL) -m 644 include/hakmem.h '$(DESTDIR)$(INCLUDEDIR)/hakmem.h'
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(HAK_PC_LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(HAK_PC_INCDIR)|g' -e 's|@VERSION@|$(HAK_VERSION)|g' \
	    scripts/hakmem.pc.in > $(HAK_STAGE)/hakmem.pc
	$(INSTALL) -m 644 $(HAK_STAGE)/hakmem.pc '$(DESTDIR)$(PKGCONFIGDIR)/hakmem.pc'
	sed -e 's|@HAKMEM_VERSION@|$(HAK_VERSION)|g' -e 's|@HAKMEM_LIBDIR@|$(LIBDIR)|g' \
	    scripts/hakmem > $(HAK_STAGE)/hakmem
	$(INSTALL) -m 755 $(HAK_STAGE)/hakmem '$(DESTDIR)$(BINDIR)/hakmem'
	$(if $(HAK_DOCS),$(INSTALL) -m 644 $(HAK_DOCS) '$(DESTDIR)$(DOCDIR)/')
	@$(HAK_RUN_LDCONFIG)

uninstall:
	rm -f $(addprefix '$(DESTDIR)',$(HAK_FILES))
	@rmdir '$(DESTDIR)$(DOCDIR)' 2>/dev/null || true
	@if [ -f $(HAK_DIRMANIFEST) ]; then \
	  for d in $$(sort -r $(HAK_DIRMANIFEST)); do \
	    for o in $(HAK_DIRS); do \
	      case '$(DESTDIR)'"$$o/" in "$$d/"*) rmdir "$$d" 2>/dev/null && echo "rmdir $$d"; break ;; esac; \
	    done; \
	  done; \
	  for d in $$(cat $(HAK_DIRMANIFEST)); do [ ! -d "$$d" ] || echo "$$d"; done > $(HAK_DIRMANIFEST).new; \
	  if [ -s $(HAK_DIRMANIFEST).new ]; then mv $(HAK_DIRMANIFEST).new $(HAK_DIRMANIFEST); \
	  else rm -f $(HAK_DIRMANIFEST).new $(HAK_DIRMANIFEST); fi; \
	fi
	@$(HAK_RUN_LDCONFIG)

test-install: $(BUILD)/libhakmem.so $(BUILD)/libhakmem.a
	BUILD='$(BUILD)' MAKE='$(MAKE)' scripts/test_install.sh
